import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const DNA = 'onnx:models/dna-drakes/alpha-0.3/card.json';

describe('diffuse reward', () => {
  it('exact table for the fine-tuned oracle: reward gained, its KL, best-of-N and the KL-optimal law', async () => {
    const { code, out, err } = await runCli('reward', '--model', DNA, '--best-of', '2,8', '--json');
    expect(err).toBe('');
    expect(code).toBe(0);
    const j = JSON.parse(out);
    expect(j.exact).toBe(true);
    expect(j.reward).toBe('motif:CG');
    expect(j.rows.map((r: { method: string }) => r.method)).toEqual(['pretrained', 'best-of-2', 'best-of-8', 'fine-tuned', 'KL-optimal (α = 0.3)']);
    const [pre, , , tuned, opt] = j.rows;
    expect(tuned.reward).toBeGreaterThan(pre.reward);
    expect(tuned.kl).toBeGreaterThan(0);
    expect(tuned.pathKl).toBeGreaterThanOrEqual(tuned.kl);
    expect(j.optimalAtSameKl).toBeGreaterThanOrEqual(tuned.reward - 1e-9);
    // the optimum of E[r] − α KL: no row beats the KL-optimal law on that objective
    for (const r of j.rows) expect(r.reward - 0.3 * r.kl).toBeLessThanOrEqual(opt.reward - 0.3 * opt.kl + 1e-9);
  });

  it('prints a Markdown table and the comparison at the same KL', async () => {
    const { code, out } = await runCli('reward', '--model', DNA, '--best-of', '4');
    expect(code).toBe(0);
    expect(out).toMatch(/\| fine-tuned \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| 1 \|/);
    expect(out).toMatch(/At the fine-tuned model's KL/);
  });

  it('samples when the law is too large to enumerate (the text model), with path KL and best-of-N bounds', async () => {
    const { code, out, err } = await runCli('reward', '--model', 'onnx:models/text-drakes/card.json', '--n', '4', '--best-of', '2', '--steps', '4', '--json', '--quiet');
    expect(err).toBe('');
    expect(code).toBe(0);
    const j = JSON.parse(out);
    expect(j.exact).toBe(false);
    expect(j.reward).toBe('class:aeiou');
    const byName = Object.fromEntries(j.rows.map((r: { method: string }) => [r.method, r]));
    expect(byName['best-of-2'].klKind).toBe('bound');
    expect(byName['fine-tuned'].pathKl).toBeGreaterThan(0);
    expect(byName.pretrained.reward).toBeGreaterThan(0);
  });

  it('sample --discrete runs a fine-tuned oracle as its base chain plus the correction (α = 0.1 puts nearly all mass on CGCGCG)', async () => {
    const { code, out } = await runCli('sample', '--discrete', '--model', 'dna-drakes/alpha-0.1', '--n', '16', '--steps', '8', '--json');
    expect(code).toBe(0);
    const texts: string[] = JSON.parse(out).texts;
    expect(texts.filter((t) => t === 'CGCGCG').length).toBeGreaterThanOrEqual(14);
  });

  it('bad input is named with what is accepted', async () => {
    const cases: [string[], RegExp][] = [
      [['--model', 'models/dna-drakes/alpha-0.3/card.json'], /onnx:CARD.json; got "models\/dna-drakes/],
      [['--model', DNA, '--reward', 'motif:CX'], /"X" is not one of the model's tokens/],
      [['--model', DNA, '--best-of', '0,2'], /--best-of "0,2": accepted: comma-separated integers/],
      [['--model', DNA, '--alphas', '0'], /--alphas "0": accepted: comma-separated numbers > 0/],
      [['--model', 'onnx:models/text-drakes/card.json', '--alphas', '0.1', '--n', '2'], /--alphas needs an exact table/],
      [['--model', 'onnx:models/text/card.json'], /records no fine_tuning.reward/],
      [['--model', 'onnx:models/text/card.json', '--reward', 'class:e'], /names no pretrained model/],
    ];
    for (const [args, message] of cases) {
      const { code, err } = await runCli('reward', ...args);
      expect(code, args.join(' ')).not.toBe(0);
      expect(err, args.join(' ')).toMatch(message);
    }
  });
});
