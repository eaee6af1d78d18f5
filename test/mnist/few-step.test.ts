import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { cardGrid, parseModelCard } from '../../src/models/onnx/card.js';
import { loadOrt } from '../onnx/support.js';

const ort = await loadOrt();

/** `diffuse eval --json` in-process. */
async function evalJson(...args: string[]): Promise<{ fd: number; accuracy: number; nfe: number; steps: number }> {
  let out = '';
  let err = '';
  const code = await main(['eval', '--json', ...args], { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  expect({ code, err }).toEqual({ code: 0, err: '' });
  return JSON.parse(out);
}

describe('few-step grids chosen by measurement (docs/few-step-results.md)', () => {
  it('the shipped cards name grids for the measured samplers up to 10 steps, and leave longer runs and other samplers to the sampler', () => {
    for (const name of ['mnist', 'fashion', 'mnist-int8']) {
      const card = parseModelCard(JSON.parse(readFileSync(`models/${name}/card.json`, 'utf8')), name);
      for (const guided of [false, true]) for (const sampler of ['heun', 'plms', 'dpmpp-2m-sde']) expect(cardGrid(card, 5, sampler, guided)).toBeUndefined();
      for (const sampler of ['ddim', 'dpmpp-2m', 'unipc', 'deis']) {
        for (const guided of [false, true]) {
          for (const steps of [1, 3, 4, 5, 6, 8, 10]) expect(cardGrid(card, steps, sampler, guided), `${name} ${sampler} ${steps}`).toBeDefined();
          expect(cardGrid(card, 11, sampler, guided)).toBeUndefined();
        }
      }
      expect(cardGrid(card, 4, 'unipc')).toEqual({ type: 'time-uniform', end: 'min', steps: 4 });
      expect(cardGrid(card, 4, 'unipc', true)).toEqual({ type: 'time-uniform', end: 'min', steps: 4 });
    }
  });

  it.skipIf(!ort)('held-out, paired: the card\'s 4-step grid beats the old default by far, and the shipped search stays in its band', async () => {
    const common = ['--model', 'mnist', '--sampler', 'unipc', '--steps', '4', '--n', '200', '--seed', '0'];
    const card = await evalJson(...common);
    const old = await evalJson(...common, '--grid', 'logsnr', '--end', 'zero');
    expect(card.nfe).toBe(4);
    expect(card.fd).toBeLessThan(old.fd / 4);
    const searched = await evalJson('--model', 'mnist', '--searched', 'unipc-nfe4', '--n', '200', '--seed', '0');
    expect(searched.nfe).toBe(4);
    // measured when the search was shipped (n = 200, seed 0): FD 102.0 (the card's grid 119.7, the old default 2448)
    expect(searched.fd).toBeGreaterThan(102.0 * 0.8);
    expect(searched.fd).toBeLessThan(102.0 * 1.25);
  });
});
