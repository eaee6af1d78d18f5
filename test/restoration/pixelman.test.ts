import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { RunError, UsageError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { loadMnistDigits } from '../../src/eval/data.js';
import { loadOnnxModel } from '../../src/models/onnx/node.js';
import type { VpDiscrete } from '../../src/process/vp-discrete.js';
import { CANVAS_SIZE, OBJECT_SIZE, canvasLight, movedScene, objectFromDigit, objectMask, randomMoves, renderCanvas } from '../../src/restoration/canvas.js';
import { editCanvasMoves } from '../../src/restoration/editing.js';
import { loadEditNet } from '../../src/restoration/node.js';
import { parsePixelManCard } from '../../src/restoration/pixelman-onnx.js';
import { blur9, leadingTimesteps, moveRegions, pixelManipulate, pixelman, shiftImage, type EditNet } from '../../src/restoration/pixelman.js';
import { runCli } from '../support/cli.js';

const S = CANVAS_SIZE;
const P = S * S;
const CARD = 'models/canvas/card.json';
const EDIT = 'models/canvas/edit.json';

const box = (x0: number, y0: number, w: number, h: number, size = 8): Float64Array => {
  const m = new Float64Array(size * size);
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) m[y * size + x] = 1;
  return m;
};

describe('moves in pixel space', () => {
  it('shifts, splits the regions and copies the object while the original stays', () => {
    const mask = box(1, 1, 3, 2);
    const r = moveRegions(mask, 8, 2, 0);
    expect(Array.from(r.target)).toEqual(Array.from(box(3, 1, 3, 2)));
    // vacated: the source minus the overlap with the target
    expect(Array.from(r.inpaint)).toEqual(Array.from(box(1, 1, 2, 2)));
    const img = Float64Array.from({ length: 64 }, (_, i) => i);
    const man = pixelManipulate(img, r, 2, 0);
    expect(man[1 * 8 + 3]).toBe(img[1 * 8 + 1]);
    expect(man[1 * 8 + 1]).toBe(img[1 * 8 + 1]);
    expect(man[0]).toBe(0);
    expect(shiftImage(img, 8, -1, 1, -5)[0]).toBe(-5);
    expect(shiftImage(img, 8, -1, 1)[8]).toBe(1);
  });

  it('refuses moves off the image, empty and non-binary masks', () => {
    expect(() => moveRegions(box(5, 5, 3, 3), 8, 1, 0)).toThrow(/takes 3 of its 9 pixels off the 8×8 image/);
    expect(() => moveRegions(new Float64Array(64), 8, 1, 0)).toThrow(/empty/);
    expect(() => moveRegions(new Float64Array(64).fill(0.5), 8, 1, 0)).toThrow(/only 0 and 1/);
    expect(() => moveRegions(box(1, 1, 2, 2), 8, 0.5, 0)).toThrow(/whole pixels/);
    expect(() => moveRegions(new Float64Array(10), 8, 1, 0)).toThrow(UsageError);
  });

  it('takes SD\'s leading timesteps and torchvision\'s 9-tap blur', () => {
    expect(leadingTimesteps(1000, 16)).toEqual(Array.from({ length: 16 }, (_, k) => (15 - k) * 62 + 1));
    const ones = blur9(new Float64Array(P).fill(1), S);
    expect(Math.max(...ones.map((v) => Math.abs(v - 1)))).toBeLessThan(1e-12);
    const dot = new Float64Array(P);
    dot[16 * S + 16] = 1;
    const b = blur9(dot, S);
    // σ = 0.3((9 − 1)/2 − 1) + 0.8 = 1.7: the centre weight is (1/Σ_k e^{−k²/(2·1.7²)})²
    let z = 0;
    for (let k = -4; k <= 4; k++) z += Math.exp(-(k * k) / (2 * 1.7 * 1.7));
    expect(b[16 * S + 16]).toBeCloseTo(1 / (z * z), 12);
  });
});

describe('canvases', () => {
  it('draws the lit stripes and lit objects of the recipe', () => {
    const alpha = new Float64Array(OBJECT_SIZE * OBJECT_SIZE).fill(1);
    const scene = { light: { s: 0.3, psi: 0.4 }, stripes: { f: 0.15, theta: 1.0, phi: 0.5 }, objects: [{ alpha, x: 4, y: 6 }] };
    const img = renderCanvas(scene);
    const light = canvasLight(scene);
    const L = (x: number, y: number): number => 0.65 + 0.6 * (((x + 0.5) / 32 - 0.5) * Math.cos(0.4) + ((y + 0.5) / 32 - 0.5) * Math.sin(0.4));
    expect(light[3 * S + 20]).toBeCloseTo(L(20, 3), 12);
    const stripes = 0.5 + 0.5 * Math.sin(2 * Math.PI * 0.15 * (20 * Math.cos(1.0) + 3 * Math.sin(1.0)) + 0.5);
    expect(img[3 * S + 20]).toBeCloseTo(2 * L(20, 3) * (0.15 + 0.3 * stripes) - 1, 12);
    expect(img[10 * S + 10]).toBeCloseTo(2 * 0.95 * L(10, 10) - 1, 12);
    expect(() => movedScene(scene, { object: 0, dx: 13, dy: 0 })).toThrow(/0…16/);
    expect(() => movedScene(scene, { object: 1, dx: 1, dy: 0 })).toThrow(/one of 0…0/);
  });

  it('renders the scenes training/pixelman.py trains on (its own render of two held-out digits)', async () => {
    const c = JSON.parse(readFileSync('test/fixtures/canvas/render_case.json', 'utf8')) as { digits: number[]; light: { s: number; psi: number }; stripes: { f: number; theta: number; phi: number }; corners: number[][]; image: number[] };
    const { images } = await loadMnistDigits();
    const objects = c.digits.map((d, k) => ({ alpha: objectFromDigit(images.subarray(d * 784, (d + 1) * 784)), x: c.corners[k][0], y: c.corners[k][1] }));
    const img = renderCanvas({ light: c.light, stripes: c.stripes, objects });
    expect(Math.max(...img.map((v, i) => Math.abs(v - c.image[i])))).toBeLessThan(1e-5);
  });

  it('area-resizes the central 20×20 of a digit and grows the selection by a pixel', () => {
    const digit = new Float64Array(784).fill(-1);
    for (let r = 4; r < 24; r++) for (let c = 4; c < 24; c++) digit[r * 28 + c] = r < 14 ? 1 : -1;
    const a = objectFromDigit(digit);
    expect(a[0]).toBe(1);
    expect(a[15 * 16]).toBe(0);
    // output row 7 covers input rows 8.75–10 → cells 8, 9 (both inside r < 14 − 4 = 10)
    expect(a[7 * 16]).toBe(1);
    // output row 8 covers input rows 10 and 11, both off
    expect(a[8 * 16]).toBe(0);
    const m = objectMask({ alpha: a, x: 2, y: 2 });
    expect(m[1 * S + 2]).toBe(1);
    expect(m[0]).toBe(0);
    expect(m[(2 + 9) * S + 5]).toBe(0);
  });
});

/** A stand-in network whose x̂_0 is exactly the image each branch is told to produce (see the update rule). */
function oracleNet(alphaBar: ArrayLike<number>, want: { man: Float64Array; src: Float64Array; tgt: Float64Array }, log: { inpaint: number; block: number }[] = []): EditNet {
  return {
    size: S,
    simSize: 16,
    edit: (x, n, t, masks) => {
      const a = alphaBar[t];
      const eps = new Float64Array(3 * n * P);
      [want.man, want.src, want.tgt].forEach((w, b) => {
        for (let i = 0; i < n * P; i++) eps[b * n * P + i] = (x[b * n * P + i] - Math.sqrt(a) * w[i]) / Math.sqrt(1 - a);
      });
      log.push({ inpaint: masks.inpaint.reduce((s, v) => s + v, 0), block: masks.block.reduce((s, v) => s + v, 0) });
      return Promise.resolve({ eps, sim: new Float64Array(n * 256).map((_, i) => (i % 17 === 0 ? 1 : 0)) });
    },
  };
}

describe('PixelMan\'s update (Sampler.edit_gsn_pixelman)', () => {
  const alphaBar = Float64Array.from({ length: 1000 }, (_, i) => Math.exp(-0.01 * (i + 1)));
  const mask = box(4, 4, 12, 12, S);
  const r = moveRegions(mask, S, 10, 8);
  const src = Float64Array.from({ length: P }, (_, i) => Math.sin(i));
  const man = pixelManipulate(src, r, 10, 8);
  const tgt = Float64Array.from({ length: P }, (_, i) => Math.cos(i));

  it('anchors to the manipulated image: ẑ_0 = x_man + (x̂_0 − x̂_0^man)(1 − blur(m_gen)), everywhere in the last steps', async () => {
    const last = await pixelman(src, man, [r], { net: oracleNet(alphaBar, { man, src, tgt }), alphaBar, steps: 4, rng: new Rng(0) });
    expect(Math.max(...last.map((v, i) => Math.abs(v - tgt[i])))).toBeLessThan(1e-9);
    const kept = await pixelman(src, man, [r], { net: oracleNet(alphaBar, { man, src, tgt }), alphaBar, steps: 4, rng: new Rng(0), finalSteps: 0 });
    const keep = blur9(r.target, S).map((m) => 1 - m);
    const expected = man.map((v, i) => v + (tgt[i] - v) * keep[i]);
    expect(Math.max(...kept.map((v, i) => Math.abs(v - expected[i])))).toBeLessThan(1e-9);
    // the centre of the 12×12 target is 4 pixels from every edge: blur(m_gen) = 1 there, the copy is kept
    expect(kept[(8 + 10) * S + 4 + 16]).toBeCloseTo(man[(8 + 10) * S + 4 + 16], 12);
  });

  it('passes the leak-proof masks, and none without them', async () => {
    const log: { inpaint: number; block: number }[] = [];
    await pixelman(src, man, [r], { net: oracleNet(alphaBar, { man, src, tgt }, log), alphaBar, steps: 2, rng: new Rng(0) });
    const area = r.inpaint.reduce((s, v) => s + v, 0);
    expect(log[0].inpaint).toBe(area);
    // m_block = m_gen ∪ m_sim, m_sim = the object's old place before any attention map
    expect(log[0].block).toBe(r.target.map((v, i) => (v || r.source[i] ? 1 : 0)).reduce((s, v) => s + v, 0));
    // then m_sim follows the map (here: cells k·17, i.e. the diagonal cells of a 16×16 map, 2×2 pixels each)
    expect(log[1].block).toBe(r.target.map((v, i) => (v || (Math.floor(i / S / 2) === Math.floor((i % S) / 2)) ? 1 : 0)).reduce((s, v) => s + v, 0));
    const off: { inpaint: number; block: number }[] = [];
    await pixelman(src, man, [r], { net: oracleNet(alphaBar, { man, src, tgt }, off), alphaBar, steps: 2, rng: new Rng(0), leakProof: false });
    expect(off.every((m) => m.inpaint === 0 && m.block === 0)).toBe(true);
  });

  it('refuses a non-finite ε and mismatched inputs', async () => {
    const bad: EditNet = { size: S, simSize: 16, edit: (_x, n) => Promise.resolve({ eps: new Float64Array(3 * n * P).fill(NaN), sim: new Float64Array(n * 256) }) };
    await expect(pixelman(src, man, [r], { net: bad, alphaBar, steps: 2, rng: new Rng(0) })).rejects.toThrow(RunError);
    await expect(pixelman(src, man.subarray(1), [r], { net: bad, alphaBar, steps: 2, rng: new Rng(0) })).rejects.toThrow(/must each hold 1 × 32×32/);
    await expect(pixelman(src, man, [r], { net: bad, alphaBar, steps: 2, rng: new Rng(0), finalSteps: 3 })).rejects.toThrow(/finalSteps/);
    await expect(pixelman(src, man.map((v, i) => (i === 5 ? NaN : v)), [r], { net: bad, alphaBar, steps: 2, rng: new Rng(0) })).rejects.toThrow(/manipulated images hold a non-finite value at index 5/);
    expect(() => parsePixelManCard({ format: 'diffuse-pixelman-card/v1', onnx: 'a.onnx', model: 'card.json', inputs: { sample: 's', timestep: 't', m_ipt: 'a', m_block: 'b', m_gen: 'c' }, outputs: { eps: 'e', sim: 'm' }, size: 32, sim_size: 12 }))
      .toThrow(/"sim_size" must divide "size"/);
  });
});

describe('the shipped canvas model (models/canvas, training/pixelman.py)', () => {
  it('runs PixelMan\'s three branches as PyTorch does (K/V injection, leak-proof masks, the attention map)', async () => {
    const net = await loadEditNet(EDIT);
    const cases = JSON.parse(readFileSync('test/fixtures/canvas/edit_cases.json', 'utf8')) as { t: number; x: number[]; m_ipt: number[]; m_block: number[]; m_gen: number[]; expected: number[]; sim: number[] }[];
    for (const c of cases) {
      const out = await net.edit(Float64Array.from(c.x), 1, c.t, { inpaint: Float64Array.from(c.m_ipt), block: Float64Array.from(c.m_block), gen: Float64Array.from(c.m_gen) });
      expect(Math.max(...out.eps.map((v, i) => Math.abs(v - c.expected[i])))).toBeLessThan(1e-4);
      expect(Math.max(...out.sim.map((v, i) => Math.abs(v - c.sim[i])))).toBeLessThan(1e-5);
    }
  });

  it('returns the canvas unchanged for the trivial move, and the leak-proof masks change the inpainting', async () => {
    const model = await loadOnnxModel(CARD);
    const net = await loadEditNet(EDIT);
    const alphaBar = (model.process as VpDiscrete).alphasCumprod;
    const digits = await loadMnistDigits();
    const pool = [0, 7, 14, 21].map((i) => objectFromDigit(digits.images.subarray(i * 784, (i + 1) * 784)));
    const moves = randomMoves(pool, 4, new Rng(3));
    const x = renderCanvas(moves[0].scene);
    const r = moveRegions(objectMask(moves[0].scene.objects[0]), S, 0, 0);
    const same = await pixelman(x, pixelManipulate(x, r, 0, 0), [r], { net, alphaBar, steps: 4, rng: new Rng(0) });
    expect(Math.max(...same.map((v, i) => Math.abs(v - x[i])))).toBeLessThan(1e-5);
    // the results page: without the leak-proof masks the duplicate stays (−6.0 dB in the vacated region over 200 edits)
    const many = randomMoves(pool, 8, new Rng(4));
    const on = await editCanvasMoves(many, { method: 'pixelman', net, alphaBar, steps: 16, rng: new Rng(1) });
    const off = await editCanvasMoves(many, { method: 'pixelman', net, alphaBar, steps: 16, rng: new Rng(1), leakProof: false });
    expect(on.nfe).toBe(48);
    const mean = (a: Float64Array): number => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(on.scores.inpaint) - mean(off.scores.inpaint)).toBeGreaterThan(3);
    const cp = await editCanvasMoves(moves, { method: 'copy-paste', alphaBar, steps: 1, rng: new Rng(1) });
    expect([...cp.scores.background].every((v) => v === Infinity)).toBe(true);
    const inv = await editCanvasMoves(moves, { method: 'invert', model, alphaBar, steps: 3, rng: new Rng(1) });
    expect(inv.nfe).toBe(6);
    expect([...inv.scores.background].every((v) => v === Infinity)).toBe(true);
  }, 60_000);

  it('edits from the CLI and refuses a bad method', async () => {
    const { code, out } = await runCli('edit', '--scenes', '2', '--steps', '2', '--json', '--quiet');
    expect(code).toBe(0);
    const s = JSON.parse(out) as { nfe: number; method: string; psnr: { inpaint: number; all: number } };
    expect(s.method).toBe('pixelman');
    expect(s.nfe).toBe(6);
    expect(Number.isFinite(s.psnr.inpaint)).toBe(true);
    const bad = await runCli('edit', '--method', 'magic');
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/--method magic: accepted: pixelman, invert, copy-paste/);
    const wrong = await runCli('edit', '--model', 'mnist', '--scenes', '1');
    expect(wrong.code).not.toBe(0);
    expect(wrong.err).toMatch(/32×32 canvases .* this network's samples are 1×28×28/);
  }, 60_000);
});
