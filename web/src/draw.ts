/** Canvas drawing for the Lab: the mixture, the trajectories, the exact path, and the log–log error chart. */
import type { BenchPoint, LabResult } from './protocol.js';

export const PALETTE = ['#4e79a7', '#e15759', '#59a14f', '#f28e2b', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#bab0ac'];

/** A canvas sized to its CSS box at the device's pixel ratio, and its 2-D context in CSS pixels. */
function prepare(canvas: HTMLCanvasElement): { g: CanvasRenderingContext2D; w: number; h: number } {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 480;
  const h = canvas.clientHeight || 480;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const g = canvas.getContext('2d') as CanvasRenderingContext2D;
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, w, h);
  return { g, w, h };
}

/** The position of every point at progress p ∈ [0, 1] through frames, linear between neighbouring frames. */
function at(frames: number[][], p: number): number[] {
  if (frames.length === 1) return frames[0];
  const f = Math.min(1, Math.max(0, p)) * (frames.length - 1);
  const k = Math.min(frames.length - 2, Math.floor(f));
  const u = f - k;
  return frames[k].map((v, i) => (1 - u) * v + u * frames[k + 1][i]);
}

/**
 * The Lab's picture at progress p: the mixture's components (2σ circles), the exact PF-ODE paths
 * (grey), each sampler's paths so far and its points now (one colour per sampler).
 */
/** Half the width of the Lab's square view, in data units: the means with a margin, at least 2.5. */
function halfWidth(r: LabResult): number {
  let half = 2.5;
  for (const m of r.means) half = Math.max(half, Math.abs(m[0]) + 0.5, Math.abs(m[1]) + 0.5);
  return half;
}

/** The data coordinates of a point (CSS pixels) of the Lab's canvas. */
export function toData(canvas: HTMLCanvasElement, r: LabResult, x: number, y: number): number[] {
  const [w, h] = [canvas.clientWidth || 480, canvas.clientHeight || 480];
  const s = Math.min(w, h) / (2 * halfWidth(r));
  return [(x - w / 2) / s, -(y - h / 2) / s];
}

export function drawLab(canvas: HTMLCanvasElement, r: LabResult, p: number): void {
  const { g, w, h } = prepare(canvas);
  const half = halfWidth(r);
  const s = Math.min(w, h) / (2 * half);
  const X = (x: number) => w / 2 + x * s;
  const Y = (y: number) => h / 2 - y * s;
  g.fillStyle = '#fafafa';
  g.fillRect(0, 0, w, h);
  g.strokeStyle = '#ddd';
  g.beginPath();
  g.moveTo(X(-half), Y(0));
  g.lineTo(X(half), Y(0));
  g.moveTo(X(0), Y(-half));
  g.lineTo(X(0), Y(half));
  g.stroke();
  g.fillStyle = 'rgba(0, 0, 0, 0.08)';
  r.means.forEach((m, k) => {
    g.beginPath();
    g.arc(X(m[0]), Y(m[1]), Math.max(2, 2 * r.stds[k] * s), 0, 2 * Math.PI);
    g.fill();
  });
  const paths = (frames: number[][], colour: string, width: number, upTo: number) => {
    if (frames.length === 0) return [];
    const n = frames[0].length / 2;
    const last = upTo * (frames.length - 1);
    const now = at(frames, upTo);
    g.strokeStyle = colour;
    g.lineWidth = width;
    g.beginPath();
    for (let i = 0; i < n; i++) {
      g.moveTo(X(frames[0][2 * i]), Y(frames[0][2 * i + 1]));
      for (let k = 1; k <= Math.floor(last); k++) g.lineTo(X(frames[k][2 * i]), Y(frames[k][2 * i + 1]));
      g.lineTo(X(now[2 * i]), Y(now[2 * i + 1]));
    }
    g.stroke();
    return now;
  };
  if (r.exact) paths(r.exact.frames, 'rgba(60, 60, 60, 0.35)', 1, p);
  r.runs.forEach((run, j) => {
    const colour = PALETTE[j % PALETTE.length];
    const now = paths(run.frames.map((f) => f.x), `${colour}99`, 1.2, p);
    g.fillStyle = colour;
    for (let i = 0; i < now.length / 2; i++) {
      g.beginPath();
      g.arc(X(now[2 * i]), Y(now[2 * i + 1]), 2.2, 0, 2 * Math.PI);
      g.fill();
    }
  });
}

/** Log–log median error vs NFE, one line per sampler label, with decade ticks and a legend. */
export function drawChart(canvas: HTMLCanvasElement, rows: readonly BenchPoint[]): void {
  const { g, w, h } = prepare(canvas);
  const ok = rows.filter((r) => r.medianErr > 0 && Number.isFinite(r.medianErr));
  g.fillStyle = '#fff';
  g.fillRect(0, 0, w, h);
  if (ok.length === 0) return;
  const [left, right, top, bottom] = [56, 120, 12, 36];
  const lx = ok.map((r) => Math.log10(r.nfe));
  const ly = ok.map((r) => Math.log10(r.medianErr));
  const [x0, x1] = [Math.min(...lx), Math.max(...lx) + 1e-9];
  const [y0, y1] = [Math.floor(Math.min(...ly)), Math.ceil(Math.max(...ly) + 1e-9)];
  const X = (v: number) => left + ((v - x0) / (x1 - x0 || 1)) * (w - left - right);
  const Y = (v: number) => h - bottom - ((v - y0) / (y1 - y0 || 1)) * (h - top - bottom);
  g.strokeStyle = '#ccc';
  g.fillStyle = '#333';
  g.font = '11px system-ui, sans-serif';
  g.lineWidth = 1;
  for (let d = y0; d <= y1; d++) {
    g.beginPath();
    g.moveTo(left, Y(d));
    g.lineTo(w - right, Y(d));
    g.stroke();
    g.fillText(`1e${d}`, 8, Y(d) + 4);
  }
  for (const nfe of [...new Set(ok.map((r) => r.nfe))].sort((a, b) => a - b)) g.fillText(String(nfe), X(Math.log10(nfe)) - 6, h - bottom + 16);
  g.fillText('NFE', (w - right + left) / 2, h - 4);
  const labels = [...new Set(ok.map((r) => r.label))];
  labels.forEach((label, j) => {
    const line = ok.filter((r) => r.label === label).sort((a, b) => a.nfe - b.nfe);
    g.strokeStyle = g.fillStyle = PALETTE[j % PALETTE.length];
    g.lineWidth = 2;
    g.beginPath();
    line.forEach((r, i) => (i ? g.lineTo : g.moveTo).call(g, X(Math.log10(r.nfe)), Y(Math.log10(r.medianErr))));
    g.stroke();
    for (const r of line) {
      g.beginPath();
      g.arc(X(Math.log10(r.nfe)), Y(Math.log10(r.medianErr)), 3, 0, 2 * Math.PI);
      g.fill();
    }
    g.fillText(label, w - right + 10, top + 14 + 16 * j);
  });
}
