import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import { PNG } from 'pngjs';

/**
 * Plots for the CLI: a figure is plain data (lines, circles, rectangles, images, text in figure
 * pixels) built by the functions below and written as SVG; PNG is that SVG rendered by resvg with
 * the DejaVu Sans fonts shipped in assets/fonts.
 */

export type Mark =
  | { kind: 'line'; points: readonly (readonly [number, number])[]; color: string; width: number }
  | { kind: 'circle'; x: number; y: number; r: number; fill?: string; stroke?: string; strokeWidth?: number; opacity?: number }
  | { kind: 'rect'; x: number; y: number; w: number; h: number; fill: string; opacity?: number }
  | { kind: 'image'; x: number; y: number; w: number; h: number; cols: number; rows: number; gray: Uint8Array }
  | {
      kind: 'text'; x: number; y: number; text: string; size: number; color?: string;
      anchor?: 'start' | 'middle' | 'end'; vertical?: boolean; bold?: boolean;
    };

export interface Figure {
  width: number;
  height: number;
  marks: Mark[];
}

/** Series colours (Tableau 10). */
export const palette = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const INK = '#333333';
const GRID = '#e6e6e6';
const FRAME = '#999999';
const SAMPLE = palette[0];
const TARGET = palette[2];

// ---------------------------------------------------------------- axes

interface Axis {
  lo: number;
  hi: number;
  log: boolean;
  ticks: number[];
  label: string;
}

interface Panel {
  x: number;
  y: number;
  w: number;
  h: number;
  xAxis: Axis;
  yAxis: Axis;
}

/** Round steps 1, 2 or 5 × 10^k giving about `target` ticks over [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  const raw = (hi - lo) / target;
  if (!(raw > 0) || !Number.isFinite(raw)) return [lo];
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/** Decades inside [lo, hi]; with fewer than three, also 2× and 5× of each decade. */
export function logTicks(lo: number, hi: number): number[] {
  const decades: number[] = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) decades.push(Number(`1e${k}`));
  const inside = (v: number) => v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9);
  if (decades.filter(inside).length >= 3) return decades.filter(inside);
  return decades.flatMap((d) => [d, 2 * d, 5 * d]).filter(inside);
}

export function formatTick(value: number): string {
  const v = Number(value.toPrecision(12));
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e5) return String(Number(v.toPrecision(6)));
  const [m, e] = v.toExponential().split('e');
  return `${Number(Number(m).toPrecision(3))}e${Number(e)}`;
}

function linearAxis(lo: number, hi: number, label: string, pad = 0.05): Axis {
  if (!(hi > lo)) {
    const c = Number.isFinite(lo) ? lo : 0;
    return linearAxis(c - 1, c + 1, label, 0);
  }
  const m = (hi - lo) * pad;
  const a = lo - m;
  const b = hi + m;
  return { lo: a, hi: b, log: false, ticks: niceTicks(a, b), label };
}

function logAxis(lo: number, hi: number, label: string, ticks?: number[]): Axis {
  const [a, b] = hi > lo ? [lo / 1.25, hi * 1.25] : [lo / 3, lo * 3];
  return { lo: a, hi: b, log: true, ticks: ticks ?? logTicks(a, b), label };
}

function scale(axis: Axis, v: number, from: number, length: number): number {
  const f = axis.log ? Math.log(v / axis.lo) / Math.log(axis.hi / axis.lo) : (v - axis.lo) / (axis.hi - axis.lo);
  return from + f * length;
}

const px = (p: Panel, v: number) => scale(p.xAxis, v, p.x, p.w);
const py = (p: Panel, v: number) => scale(p.yAxis, v, p.y + p.h, -p.h);

/** Frame, grid lines, tick labels and axis labels of one panel. */
function drawPanel(marks: Mark[], p: Panel, title?: string): void {
  const right = p.x + p.w;
  const bottom = p.y + p.h;
  for (const t of p.xAxis.ticks) {
    const x = px(p, t);
    marks.push({ kind: 'line', points: [[x, p.y], [x, bottom]], color: GRID, width: 1 });
    marks.push({ kind: 'line', points: [[x, bottom], [x, bottom + 4]], color: FRAME, width: 1 });
    marks.push({ kind: 'text', x, y: bottom + 17, text: formatTick(t), size: 11, anchor: 'middle' });
  }
  for (const t of p.yAxis.ticks) {
    const y = py(p, t);
    marks.push({ kind: 'line', points: [[p.x, y], [right, y]], color: GRID, width: 1 });
    marks.push({ kind: 'line', points: [[p.x - 4, y], [p.x, y]], color: FRAME, width: 1 });
    marks.push({ kind: 'text', x: p.x - 7, y: y + 4, text: formatTick(t), size: 11, anchor: 'end' });
  }
  marks.push({ kind: 'line', points: [[p.x, p.y], [right, p.y], [right, bottom], [p.x, bottom], [p.x, p.y]], color: FRAME, width: 1 });
  marks.push({ kind: 'text', x: p.x + p.w / 2, y: bottom + 36, text: p.xAxis.label, size: 12, anchor: 'middle' });
  const yLabelX = p.x - 12 - Math.max(...p.yAxis.ticks.map((t) => textWidth(formatTick(t), 11))) - 8;
  marks.push({ kind: 'text', x: yLabelX, y: p.y + p.h / 2, text: p.yAxis.label, size: 12, anchor: 'middle', vertical: true });
  if (title) marks.push({ kind: 'text', x: p.x + p.w / 2, y: p.y - 8, text: title, size: 12, anchor: 'middle', bold: true });
}

/** Approximate advance widths of DejaVu Sans in em by character class, erring wide (layout only). */
const NARROW = new Set([...'ijlI.,:;|!\'` ()[]{}/\\-frt']);
const WIDE = new Set([...'mwMW%@']);

/** Advance width of text in DejaVu Sans at `size` px, slightly over rather than under, for layout. */
export function textWidth(text: string, size: number): number {
  let em = 0;
  for (const ch of text) em += NARROW.has(ch) ? 0.4 : WIDE.has(ch) ? 1.0 : ch >= 'A' && ch <= 'Z' ? 0.75 : 0.65;
  return em * size;
}

function legend(marks: Mark[], x: number, y: number, items: readonly { label: string; mark: (cx: number, cy: number) => Mark[] }[]): void {
  let cx = x;
  for (const item of items) {
    marks.push(...item.mark(cx + 6, y - 4));
    marks.push({ kind: 'text', x: cx + 20, y, text: item.label, size: 12 });
    cx += 20 + textWidth(item.label, 12) + 24;
  }
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

function rangeOf(values: Iterable<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

function* column(data: ArrayLike<number>, n: number, d: number, j: number): Generator<number> {
  for (let i = 0; i < n; i++) yield data[i * d + j];
}

// ---------------------------------------------------------------- figures

export interface SamplesPlotOptions {
  title?: string;
  /** Mixture means (K rows of d values), drawn as rings on scatter plots. */
  means?: readonly (readonly number[])[];
  /** Exact marginal density of coordinate j at x, drawn over the histograms. */
  density?: (j: number, x: number) => number;
  /** How many leading coordinates get a histogram when d > 2 (default 4). */
  coords?: number;
}

/** Samples (n × d, row-major): a scatter of the two coordinates when d = 2, else marginal histograms. */
export function samplesFigure(data: ArrayLike<number>, n: number, d: number, opts: SamplesPlotOptions = {}): Figure {
  return d === 2 ? scatterFigure(data, n, opts) : histogramFigure(data, n, d, opts);
}

/** 2-D scatter on equal axes, with the mixture means as rings. */
export function scatterFigure(data: ArrayLike<number>, n: number, opts: SamplesPlotOptions = {}): Figure {
  const means = opts.means ?? [];
  const [x0, x1] = rangeOf([...column(data, n, 2, 0), ...means.map((m) => m[0])]);
  const [y0, y1] = rangeOf([...column(data, n, 2, 1), ...means.map((m) => m[1])]);
  const half = (Math.max(x1 - x0, y1 - y0, 1e-9) / 2) * 1.08;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const xAxis = linearAxis(cx - half, cx + half, 'x[0]', 0);
  const yAxis = linearAxis(cy - half, cy + half, 'x[1]', 0);
  const p: Panel = { x: 70, y: 70, w: 420, h: 420, xAxis, yAxis };
  const marks: Mark[] = [];
  if (opts.title) marks.push({ kind: 'text', x: p.x + p.w / 2, y: 26, text: opts.title, size: 15, anchor: 'middle', bold: true });
  drawPanel(marks, p);
  const r = n <= 256 ? 3.2 : n <= 4096 ? 2.2 : 1.4;
  const opacity = n <= 256 ? 0.7 : 0.45;
  for (let i = 0; i < n; i++) {
    const x = data[2 * i];
    const y = data[2 * i + 1];
    if (Number.isFinite(x) && Number.isFinite(y)) marks.push({ kind: 'circle', x: px(p, x), y: py(p, y), r, fill: SAMPLE, opacity });
  }
  const ring = (x: number, y: number): Mark => ({ kind: 'circle', x, y, r: 6, stroke: TARGET, strokeWidth: 2 });
  for (const m of means) marks.push(ring(px(p, m[0]), py(p, m[1])));
  const items = [{ label: `samples (${n})`, mark: (x: number, y: number): Mark[] => [{ kind: 'circle', x, y, r: 3.5, fill: SAMPLE, opacity }] }];
  if (means.length) items.push({ label: 'mixture means', mark: (x, y) => [ring(x, y)] });
  legend(marks, p.x, 52, items);
  return { width: 520, height: 540, marks };
}

/** Histograms (as densities) of the first few coordinates, with the exact marginal density if given. */
export function histogramFigure(data: ArrayLike<number>, n: number, d: number, opts: SamplesPlotOptions = {}): Figure {
  const count = Math.min(d, opts.coords ?? 4);
  const cols = Math.min(count, 2);
  const rows = Math.ceil(count / cols);
  const cellW = 370;
  const cellH = 270;
  const top = 64;
  const marks: Mark[] = [];
  const width = cols * cellW + 20;
  if (opts.title) marks.push({ kind: 'text', x: width / 2, y: 26, text: opts.title, size: 15, anchor: 'middle', bold: true });
  const items = [{ label: `samples (${n})`, mark: (x: number, y: number): Mark[] => [{ kind: 'rect', x: x - 5, y: y - 5, w: 10, h: 10, fill: SAMPLE, opacity: 0.6 }] }];
  if (opts.density) items.push({ label: 'exact marginal', mark: (x, y) => [{ kind: 'line', points: [[x - 7, y], [x + 7, y]], color: TARGET, width: 2 }] });
  legend(marks, 80, 50, items);
  for (let j = 0; j < count; j++) {
    const ox = 20 + (j % cols) * cellW;
    const oy = top + Math.floor(j / cols) * cellH;
    histogramPanel(marks, { x: ox + 60, y: oy + 28, w: cellW - 90, h: cellH - 86 }, data, n, d, j, opts);
  }
  return { width, height: top + rows * cellH, marks };
}

function histogramPanel(
  marks: Mark[], box: { x: number; y: number; w: number; h: number },
  data: ArrayLike<number>, n: number, d: number, j: number, opts: SamplesPlotOptions,
): void {
  const [lo0, hi0] = rangeOf([...column(data, n, d, j), ...(opts.means ?? []).map((m) => m[j])]);
  const lo = hi0 > lo0 ? lo0 : lo0 - 0.5;
  const hi = hi0 > lo0 ? hi0 : lo0 + 0.5;
  const bins = Math.max(10, Math.min(60, Math.ceil(2 * Math.cbrt(n))));
  const width = (hi - lo) / bins;
  const counts = new Float64Array(bins);
  for (const v of column(data, n, d, j)) if (Number.isFinite(v)) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  const heights = Array.from(counts, (c) => c / (n * width));
  const xs = Array.from({ length: 161 }, (_, i) => lo - 0.05 * (hi - lo) + (1.1 * (hi - lo) * i) / 160);
  const curve = opts.density ? xs.map((x) => opts.density!(j, x)) : [];
  const top = Math.max(...heights, ...curve.filter(Number.isFinite));
  const p: Panel = { ...box, xAxis: linearAxis(lo, hi, `x[${j}]`), yAxis: linearAxis(0, top, 'density', 0) };
  p.yAxis = { ...p.yAxis, lo: 0, hi: top * 1.08 };
  drawPanel(marks, p, `coordinate ${j}`);
  heights.forEach((h, b) => {
    const x = px(p, lo + b * width);
    const y = py(p, h);
    marks.push({ kind: 'rect', x, y, w: px(p, lo + (b + 1) * width) - x, h: py(p, 0) - y, fill: SAMPLE, opacity: 0.6 });
  });
  if (curve.length) marks.push({ kind: 'line', points: xs.map((x, i) => [px(p, x), py(p, curve[i])]), color: TARGET, width: 2 });
}

export interface Series {
  name: string;
  x: readonly number[];
  y: readonly number[];
}

/** Log–log lines of error against NFE, one per sampler, with markers and a legend on the right. */
export function errorFigure(
  series: readonly Series[], opts: { title?: string; xlabel?: string; ylabel?: string; xTicks?: readonly number[] } = {},
): Figure {
  const good = (x: number, y: number) => x > 0 && y > 0 && Number.isFinite(x) && Number.isFinite(y);
  const xs = series.flatMap((s) => s.x.filter((x, i) => good(x, s.y[i])));
  const ys = series.flatMap((s) => s.y.filter((y, i) => good(s.x[i], y)));
  const [x0, x1] = xs.length ? rangeOf(xs) : [1, 10];
  const [y0, y1] = ys.length ? rangeOf(ys) : [1e-3, 1];
  const xTicks = spaced([...new Set(opts.xTicks ?? xs)].sort((a, b) => a - b), 1.15);
  const p: Panel = {
    x: 80, y: 56, w: 470, h: 340,
    xAxis: logAxis(x0, x1, opts.xlabel ?? 'NFE (model calls)', xTicks.length <= 12 ? xTicks.filter((x) => x >= x0 / 1.25 && x <= x1 * 1.25) : undefined),
    yAxis: logAxis(y0, y1, opts.ylabel ?? 'error'),
  };
  const marks: Mark[] = [];
  if (opts.title) marks.push({ kind: 'text', x: p.x + p.w / 2, y: 28, text: opts.title, size: 15, anchor: 'middle', bold: true });
  drawPanel(marks, p);
  series.forEach((s, k) => {
    const color = palette[k % palette.length];
    let run: [number, number][] = [];
    const flush = () => {
      if (run.length > 1) marks.push({ kind: 'line', points: run, color, width: 2 });
      run = [];
    };
    s.x.forEach((x, i) => {
      if (!good(x, s.y[i])) return flush();
      run.push([px(p, x), py(p, s.y[i])]);
    });
    flush();
    s.x.forEach((x, i) => {
      if (good(x, s.y[i])) marks.push({ kind: 'circle', x: px(p, x), y: py(p, s.y[i]), r: 3.5, fill: color, stroke: '#ffffff', strokeWidth: 1 });
    });
    const ly = p.y + 8 + 20 * k;
    marks.push({ kind: 'line', points: [[p.x + p.w + 20, ly - 4], [p.x + p.w + 44, ly - 4]], color, width: 2 });
    marks.push({ kind: 'circle', x: p.x + p.w + 32, y: ly - 4, r: 3.5, fill: color, stroke: '#ffffff', strokeWidth: 1 });
    marks.push({ kind: 'text', x: p.x + p.w + 52, y: ly, text: s.name, size: 12 });
  });
  const legendW = Math.max(0, ...series.map((s) => textWidth(s.name, 12)));
  return { width: Math.ceil(p.x + p.w + 64 + legendW), height: Math.max(460, p.y + 28 + 20 * series.length), marks };
}

export interface ImageGridOptions {
  title?: string;
  /** Images per row (default: a near-square grid). */
  cols?: number;
  /** Values mapped to black and white (default [-1, 1]); values outside are clipped. */
  range?: readonly [number, number];
  /** Text above each column, e.g. the class of the images in it. */
  colLabels?: readonly string[];
  /** Figure pixels per image pixel (default 2). */
  pixel?: number;
}

/** n grayscale images of height × width values each (row-major, one after another) in a grid. */
export function imageGridFigure(data: ArrayLike<number>, n: number, height: number, width: number, opts: ImageGridOptions = {}): Figure {
  const cols = Math.max(1, Math.min(n, opts.cols ?? Math.ceil(Math.sqrt(n))));
  const rows = Math.ceil(n / cols);
  const [lo, hi] = opts.range ?? [-1, 1];
  const pixel = opts.pixel ?? 2;
  const gap = 4;
  const cellW = width * pixel + gap;
  const cellH = height * pixel + gap;
  const top = (opts.title ? 40 : 12) + (opts.colLabels ? 18 : 0);
  const marks: Mark[] = [];
  const figureWidth = Math.max(cols * cellW + 2 * gap, opts.title ? textWidth(opts.title, 15) + 24 : 0);
  const left = (figureWidth - cols * cellW) / 2;
  if (opts.title) marks.push({ kind: 'text', x: figureWidth / 2, y: 26, text: opts.title, size: 15, anchor: 'middle', bold: true });
  opts.colLabels?.slice(0, cols).forEach((label, c) => {
    marks.push({ kind: 'text', x: left + c * cellW + cellW / 2, y: top - 6, text: label, size: 12, anchor: 'middle' });
  });
  const size = height * width;
  for (let i = 0; i < n; i++) {
    const gray = new Uint8Array(size);
    for (let k = 0; k < size; k++) {
      const v = data[i * size + k];
      gray[k] = Number.isFinite(v) ? Math.round(255 * clamp01((v - lo) / (hi - lo))) : 0;
    }
    const x = left + (i % cols) * cellW + gap / 2;
    const y = top + Math.floor(i / cols) * cellH + gap / 2;
    marks.push({ kind: 'image', x, y, w: width * pixel, h: height * pixel, cols: width, rows: height, gray });
  }
  return { width: Math.ceil(figureWidth), height: top + rows * cellH + gap, marks };
}

/** Drop ticks closer than a factor `ratio` to the previous kept one (their labels would overlap). */
function spaced(sorted: readonly number[], ratio: number): number[] {
  const out: number[] = [];
  for (const v of sorted) if (!out.length || v >= out[out.length - 1] * ratio) out.push(v);
  return out;
}

// ---------------------------------------------------------------- SVG

const num = (v: number) => String(Math.round(v * 100) / 100);
const escapeXml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

function svgMark(m: Mark): string {
  switch (m.kind) {
    case 'line':
      return `<polyline points="${m.points.map(([x, y]) => `${num(x)},${num(y)}`).join(' ')}" fill="none" stroke="${m.color}" stroke-width="${m.width}" stroke-linejoin="round" stroke-linecap="round"/>`;
    case 'circle': {
      const fill = m.fill ? `fill="${m.fill}"` : 'fill="none"';
      const stroke = m.stroke ? ` stroke="${m.stroke}" stroke-width="${m.strokeWidth ?? 1}"` : '';
      const opacity = m.opacity !== undefined ? ` fill-opacity="${m.opacity}"` : '';
      return `<circle cx="${num(m.x)}" cy="${num(m.y)}" r="${m.r}" ${fill}${opacity}${stroke}/>`;
    }
    case 'rect': {
      const opacity = m.opacity !== undefined ? ` fill-opacity="${m.opacity}"` : '';
      return `<rect x="${num(m.x)}" y="${num(m.y)}" width="${num(m.w)}" height="${num(m.h)}" fill="${m.fill}"${opacity}/>`;
    }
    case 'image': {
      const uri = `data:image/png;base64,${Buffer.from(grayPng(m.gray, m.cols, m.rows)).toString('base64')}`;
      return `<image x="${num(m.x)}" y="${num(m.y)}" width="${num(m.w)}" height="${num(m.h)}" preserveAspectRatio="none" image-rendering="optimizeSpeed" href="${uri}"/>`;
    }
    case 'text': {
      const anchor = m.anchor && m.anchor !== 'start' ? ` text-anchor="${m.anchor}"` : '';
      const bold = m.bold ? ' font-weight="bold"' : '';
      const rotate = m.vertical ? ` transform="rotate(-90 ${num(m.x)} ${num(m.y)})"` : '';
      return `<text x="${num(m.x)}" y="${num(m.y)}" font-size="${m.size}" fill="${m.color ?? INK}"${anchor}${bold}${rotate}>${escapeXml(m.text)}</text>`;
    }
  }
}

/**
 * The figure widened (and its marks shifted right) so that every horizontal text lies inside it
 * with a margin: a title wider than its panels is never clipped.
 */
export function fitText(f: Figure, margin = 8): Figure {
  let left = 0;
  let right = f.width;
  for (const m of f.marks) {
    if (m.kind !== 'text' || m.vertical) continue;
    const w = textWidth(m.text, m.size) * (m.bold ? 1.12 : 1);
    const x0 = m.x - (m.anchor === 'middle' ? w / 2 : m.anchor === 'end' ? w : 0);
    left = Math.min(left, x0 - margin);
    right = Math.max(right, x0 + w + margin);
  }
  if (left === 0 && right === f.width) return f;
  const dx = -left;
  const shift = (m: Mark): Mark =>
    m.kind === 'line' ? { ...m, points: m.points.map(([x, y]) => [x + dx, y] as const) } : { ...m, x: m.x + dx };
  return { width: Math.ceil(right + dx), height: f.height, marks: dx > 0 ? f.marks.map(shift) : f.marks };
}

export function renderSvg(figure: Figure): string {
  const f = fitText(figure);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<rect width="${f.width}" height="${f.height}" fill="#ffffff"/>`,
    ...f.marks.map(svgMark),
    '</svg>',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------- PNG

/** The fonts PNGs are drawn with, shipped in the package (servers often have none installed). */
const FONTS = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) => fileURLToPath(new URL(`../../assets/fonts/${f}`, import.meta.url)));

/** Render a figure's SVG with resvg at `scale` device pixels per figure pixel, as PNG bytes. */
export function renderPng(figure: Figure, scale = 2): Uint8Array {
  const svg = new Resvg(renderSvg(figure), {
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: false, fontFiles: FONTS, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return new Uint8Array(svg.render().asPng());
}

function encodePng(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return new Uint8Array(PNG.sync.write(png));
}

/** A grayscale bitmap as PNG bytes (for SVG's embedded images). */
function grayPng(gray: Uint8Array, width: number, height: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  gray.forEach((v, k) => rgba.set([v, v, v, 255], 4 * k));
  return encodePng(rgba, width, height);
}
