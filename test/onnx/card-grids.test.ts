import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cardGrid, cardProcess, parseModelCard } from '../../src/models/onnx/card.js';
import { makeGrid } from '../../src/grid/index.js';
import { sample } from '../../src/sample.js';
import { FIXTURES, loadOrt } from './support.js';

const ort = await loadOrt();
const dir = mkdtempSync(join(tmpdir(), 'diffuse-card-grids-'));
const condCard = JSON.parse(readFileSync(`${FIXTURES}gauss_eps_cond.json`, 'utf8')) as Record<string, unknown>;
const rules = [
  { max_steps: 6, guided: true, grid: { type: 'time-quadratic', end: 'min' } },
  { max_steps: 6, samplers: ['dpmpp-2m', 'unipc'], grid: { type: 'time-uniform', end: 'zero' } },
  { max_steps: 6, grid: { type: 'time-uniform', end: 'min' } },
];

describe('a card\'s default grids (pure)', () => {
  const card = parseModelCard({ ...condCard, grids: rules }, 'card.json');

  it('the first rule that applies to the steps and sampler, with the run\'s steps; none past every max_steps', () => {
    expect(cardGrid(card, 5, 'unipc')).toEqual({ type: 'time-uniform', end: 'zero', steps: 5 });
    expect(cardGrid(card, 5, 'ddim')).toEqual({ type: 'time-uniform', end: 'min', steps: 5 });
    expect(cardGrid(card, 6, 'dpmpp-2m')).toEqual({ type: 'time-uniform', end: 'zero', steps: 6 });
    expect(cardGrid(card, 7, 'dpmpp-2m')).toBeUndefined();
    expect(cardGrid(parseModelCard(condCard), 5, 'ddim')).toBeUndefined();
    expect(cardGrid(card, 5, 'unipc', true)).toEqual({ type: 'time-quadratic', end: 'min', steps: 5 });
    expect(cardGrid(card, 7, 'unipc', true)).toBeUndefined();
  });

  it('bad rules say what is wrong and what is accepted', () => {
    const bad = (grids: unknown, message: RegExp) => expect(() => cardProcess(parseModelCard({ ...condCard, grids }, 'card.json'), 'card.json')).toThrow(message);
    bad([{ grid: { type: 'uniform' } }], /"grids\[0\]\.grid\.type" must be one of: time-uniform, time-quadratic, logsnr/);
    bad([{ grid: { type: 'explicit', times: [1, 0] } }], /"grids\[0\]\.grid\.type" must be one of/);
    bad([{ grid: { type: 'logsnr', steps: 5 } }], /"grids\[0\]\.grid" has "steps": a rule's grid takes the step count of the run/);
    bad([{ max_steps: 0, grid: { type: 'logsnr' } }], /"grids\[0\]\.max_steps" must be an integer from 1/);
    bad([{ grid: { type: 'logsnr', end: 'sideways' } }], /card.json: "grids\[0\]\.grid": grid end must be a time in .*"min" or "zero"; got sideways/);
    bad([{ samplers: ['dpmpp_2m'], grid: { type: 'logsnr' } }], /"grids\[0\]\.samplers" names "dpmpp_2m", an alias of dpmpp-2m; give the sampler's registry name/);
    bad([{ samplers: ['nope'], grid: { type: 'logsnr' } }], /card.json: "grids\[0\]\.samplers": .*nope/);
    bad([], /"grids" must/);
    bad([{ guided: 'yes', grid: { type: 'logsnr' } }], /"grids\[0\]\.guided" must be true or false/);
  });
});

describe.skipIf(!ort)('runs without a grid take the card\'s', () => {
  const node = ort as NonNullable<typeof ort>;
  const path = join(dir, 'cond-grids.json');
  writeFileSync(path, JSON.stringify({ ...condCard, onnx: join(FIXTURES, String(condCard.onnx)), grids: rules }));

  it('conditional and guided models, the rule per sampler and guidance; a given grid or steps past the rules keep their own', async () => {
    const net = await node.loadOnnxModel(path);
    const p = net.process;
    const grid = async (model: Parameters<typeof sample>[0]['model'], sampler: string, steps: number, given?: Parameters<typeof sample>[0]['grid']) =>
      Array.from((await sample({ model, process: p, sampler, steps, n: 2, seed: 1, ...(given ? { grid: given } : {}) })).grid);
    const labels = net.withLabels([0, 1]);
    const cfg = node.guided(net, { labels: [0, 1], scale: 2 });
    expect(await grid(labels, 'unipc', 5)).toEqual(Array.from(makeGrid(p, { type: 'time-uniform', end: 'zero', steps: 5 })));
    expect(await grid(labels, 'dpmpp_2m', 4)).toEqual(Array.from(makeGrid(p, { type: 'time-uniform', end: 'zero', steps: 4 })));
    expect(await grid(labels, 'ddim', 5)).toEqual(Array.from(makeGrid(p, { type: 'time-uniform', end: 'min', steps: 5 })));
    // guided runs take the guided rule; guidance scale 1 is no guidance
    expect(await grid(cfg, 'unipc', 5)).toEqual(Array.from(makeGrid(p, { type: 'time-quadratic', end: 'min', steps: 5 })));
    expect(await grid(node.guided(net, { labels: [0, 1], scale: 1 }), 'unipc', 5)).toEqual(Array.from(makeGrid(p, { type: 'time-uniform', end: 'zero', steps: 5 })));
    expect(await grid(labels, 'unipc', 8)).toEqual(Array.from(makeGrid(p, { type: 'logsnr', end: 'zero', steps: 8 })));
    expect(await grid(labels, 'unipc', 5, { type: 'karras', steps: 5 })).toEqual(Array.from(makeGrid(p, { type: 'karras', steps: 5 })));
  });
});
