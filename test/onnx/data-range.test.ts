import { describe, expect, it } from 'vitest';
import { parseModelCard } from '../../src/models/onnx/card.js';

const card = { format: 'diffuse-model-card/v1', onnx: 'm.onnx', prediction: 'epsilon', process: { name: 'vp-discrete' }, sample_shape: [1, 28, 28] };

describe('model card data_range', () => {
  it('is optional and read as [low, high]', () => {
    expect(parseModelCard(card).dataRange).toBeUndefined();
    expect(parseModelCard({ ...card, data_range: [-1, 1] }).dataRange).toEqual([-1, 1]);
  });

  it.each([[[1, -1]], [[0]], [[0, 'x']], [[0, null]], ['[-1, 1]']])('rejects %j', (range) => {
    expect(() => parseModelCard({ ...card, data_range: range }, 'card.json')).toThrow(/^card\.json: "data_range" must be \[low, high\] with finite low < high/);
  });
});
