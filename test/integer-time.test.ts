import { describe, expect, it } from 'vitest';
import { integerTimeModel } from '../src/models/integer-time.js';
import type { Model } from '../src/models/types.js';

describe('integerTimeModel', () => {
  const seen: number[] = [];
  const probe: Model = { prediction: 'epsilon', sampleShape: [1], predict: async (x, _n, t) => (seen.push(t), x) };
  it('rounds half to even (NumPy) or truncates, and leaves non-finite times alone', async () => {
    const round = integerTimeModel(probe, 'round');
    const floor = integerTimeModel(probe, 'floor');
    for (const t of [775.134, 602.5, 603.5, 0.4, -Infinity]) await round.predict(new Float64Array(1), 1, t);
    for (const t of [602.77, 966.6, 0.9]) await floor.predict(new Float64Array(1), 1, t);
    expect(seen).toEqual([775, 602, 604, 0, -Infinity, 602, 966, 0]);
    expect(round.prediction).toBe('epsilon');
  });
});
