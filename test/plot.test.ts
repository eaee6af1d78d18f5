import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import {
  errorFigure, formatTick, histogramFigure, imageGridFigure, logTicks, niceTicks, renderPng, renderSvg, samplesFigure, scatterFigure, type Figure,
} from '../src/io/plot.js';

const ring = (n: number) => Float64Array.from({ length: 2 * n }, (_, i) => (i % 2 ? Math.sin : Math.cos)((2 * Math.PI * Math.floor(i / 2)) / n));
const means = [[1, 0], [0, 1], [-1, 0], [0, -1]];

function pixel(png: PNG, x: number, y: number): [number, number, number] {
  const o = (Math.round(y) * png.width + Math.round(x)) * 4;
  return [png.data[o], png.data[o + 1], png.data[o + 2]];
}

const circles = (f: Figure) => f.marks.filter((m) => m.kind === 'circle');
const texts = (f: Figure) => f.marks.flatMap((m) => (m.kind === 'text' ? [m.text] : []));

describe('axis ticks', () => {
  it('picks 1-2-5 steps', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6000000000000001, 0.8, 1]);
    expect(niceTicks(-1.08, 1.08)).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(niceTicks(3, 97)).toEqual([20, 40, 60, 80]);
  });

  it('uses decades on log axes, adding 2× and 5× when the range is short', () => {
    expect(logTicks(3e-7, 0.4)).toEqual([1e-6, 1e-5, 1e-4, 0.001, 0.01, 0.1]);
    expect(logTicks(4, 60)).toEqual([5, 10, 20, 50]);
  });

  it('formats ticks without float noise', () => {
    expect([0.6000000000000001, 1e-5, 10 ** -5, 2e-7, 0.001, 12345, -0.5, 0].map(formatTick)).toEqual(['0.6', '1e-5', '1e-5', '2e-7', '0.001', '12345', '-0.5', '0']);
  });
});

describe('figures', () => {
  it('scatters 2-D samples with the mixture means and a legend', () => {
    const f = scatterFigure(ring(16), 16, { title: 'ring', means });
    const points = circles(f).filter((c) => c.kind === 'circle' && c.fill && !c.stroke);
    const rings = circles(f).filter((c) => c.kind === 'circle' && c.stroke && !c.fill);
    expect(points).toHaveLength(16 + 1); // + legend marker
    expect(rings).toHaveLength(4 + 1);
    expect(texts(f)).toEqual(expect.arrayContaining(['ring', 'samples (16)', 'mixture means', 'x[0]', 'x[1]']));
  });

  it('skips non-finite samples instead of drawing them', () => {
    const x = ring(8);
    x[0] = NaN;
    expect(circles(scatterFigure(x, 8)).length).toBe(7 + 1);
  });

  it('draws marginal histograms of the first four coordinates when d > 2', () => {
    const d = 6;
    const n = 200;
    const x = Float64Array.from({ length: n * d }, (_, i) => Math.sin(i * 12.9898) * 3);
    const f = samplesFigure(x, n, d, { density: () => 0.1 });
    const titles = texts(f).filter((t) => t.startsWith('coordinate'));
    expect(titles).toEqual(['coordinate 0', 'coordinate 1', 'coordinate 2', 'coordinate 3']);
    expect(texts(f)).toContain('exact marginal');
    const bars = f.marks.filter((m) => m.kind === 'rect' && m.opacity === 0.6 && m.w > 0 && m.h >= 0 && m.y > 60);
    expect(bars.length % 4).toBe(0);
    expect(histogramFigure(x, n, d, { coords: 2 }).marks.filter((m) => m.kind === 'text' && m.text.startsWith('coordinate'))).toHaveLength(2);
  });

  it('draws one log–log line per series and breaks it at non-positive errors', () => {
    const f = errorFigure([
      { name: 'a', x: [5, 10, 20], y: [0.1, 0.01, 0.001] },
      { name: 'b', x: [5, 10, 20, 50], y: [0.2, 0, 0.02, 0.01] },
    ], { ylabel: 'median error' });
    const lines = f.marks.filter((m) => m.kind === 'line' && m.width === 2);
    // a: one line + legend; b: one run of two points + legend (the point at 5 stands alone)
    expect(lines).toHaveLength(4);
    expect(texts(f)).toEqual(expect.arrayContaining(['a', 'b', 'median error', '5', '10', '20', '50']));
    const pts = f.marks.filter((m) => m.kind === 'circle' && m.r === 3.5);
    expect(pts).toHaveLength(3 + 3 + 2);
  });
});

describe('renderers', () => {
  const f = scatterFigure(ring(8), 8, { title: 'a < b & "c"', means: [[2, 2]] });

  it('writes well-formed SVG with escaped text', () => {
    const svg = renderSvg(f);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('a &lt; b &amp; &quot;c&quot;');
    expect(svg.match(/<circle /g)).toHaveLength(8 + 1 + 2);
  });

  it('rasterises to a PNG at twice the figure size: white ground, blue samples, red rings, dark text', () => {
    const png = PNG.sync.read(Buffer.from(renderPng(f)));
    expect([png.width, png.height]).toEqual([2 * f.width, 2 * f.height]);
    expect(pixel(png, 2, 2)).toEqual([255, 255, 255]);
    const sample = f.marks.find((m) => m.kind === 'circle' && m.fill && m.x > 100);
    const mean = f.marks.find((m) => m.kind === 'circle' && m.stroke && m.x > 100);
    if (sample?.kind !== 'circle' || mean?.kind !== 'circle') throw new Error('marks missing');
    const [r, g, b] = pixel(png, 2 * sample.x, 2 * sample.y);
    expect(b).toBeGreaterThan(r + 40);
    expect(g).toBeLessThan(220);
    const [rr, rg, rb] = pixel(png, 2 * (mean.x + mean.r), 2 * mean.y);
    expect(rr).toBeGreaterThan(rg + 80);
    expect(rr).toBeGreaterThan(rb + 80);
    const title = f.marks.find((m) => m.kind === 'text' && m.bold);
    if (title?.kind !== 'text') throw new Error('title missing');
    let dark = 0;
    for (let y = 2 * title.y - 16; y < 2 * title.y; y++) {
      for (let x = 0; x < png.width; x++) if (pixel(png, x, y)[0] < 100) dark++;
    }
    expect(dark).toBeGreaterThan(200);
  });
});

describe('text is never clipped', () => {
  const long = 'mnist · dpmpp-2m · vp-discrete · 10 steps · NFE 10 · cfg 2 · a title longer than the panels';
  const figures: [string, Figure][] = [
    ['image grid of 8 narrow images', imageGridFigure(new Float64Array(8 * 16), 8, 4, 4, { title: long })],
    ['scatter', scatterFigure(ring(8), 8, { title: long })],
    ['histograms', histogramFigure(new Float64Array(40), 10, 4, { title: long })],
    ['error plot', errorFigure([{ name: 'a sampler with a long legend name, e.g. dpmpp-2m on karras', x: [1, 2], y: [1, 0.5] }], { title: long })],
  ];
  for (const [name, f] of figures) {
    it(`${name}: the title's ink stays off the PNG's left and right edges`, () => {
      const png = PNG.sync.read(Buffer.from(renderPng(f)));
      const inkAt = (x: number) => {
        for (let y = 0; y < Math.min(png.height, 80); y++) if (pixel(png, x, y)[0] < 128) return true;
        return false;
      };
      let first = -1;
      let last = -1;
      for (let x = 0; x < png.width; x++) if (inkAt(x)) (first < 0 ? (first = x) : (last = x));
      expect(first).toBeGreaterThan(4);
      expect(last).toBeLessThan(png.width - 5);
      expect(renderSvg(f)).toMatch(/^<svg [^>]*width="(\d+)"/);
    });
  }
});

