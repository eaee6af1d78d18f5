import { usage } from '../core/errors.js';
import { cos, sin } from '../core/math.js';
import type { Rng } from '../core/rng.js';

/**
 * Textured canvases with objects for consistent object editing (PixelMan's set-up at a scale that
 * trains in minutes; training/pixelman.py renders the same scenes for training). A 32×32 canvas:
 *   light       L = 0.65 + 2s((u − ½) cos ψ + (v − ½) sin ψ),   u = (x + ½)/32, v = (y + ½)/32
 *   stripes     S = ½ + ½ sin(2πf(x cos θ + y sin θ) + φ)
 *   background  b = L(0.15 + 0.3 S)
 *   objects     16×16 alpha maps A drawn in order, I ← (1 − A) I + 0.95 A L (lit like the ground)
 * and the value 2I − 1. Moving an object therefore needs the vacated stripes continued and the object
 * re-lit where it lands; rendering the scene with the object moved gives the true edit.
 */

/** Side of the canvas, in pixels. */
export const CANVAS_SIZE = 32;
/** Side of an object's square, in pixels. */
export const OBJECT_SIZE = 16;

/** One object: its 16×16 alpha map in [0, 1] and its top-left corner (0 … 16). */
export interface CanvasObject {
  alpha: Float64Array;
  x: number;
  y: number;
}

/** A scene: light (strength s, direction ψ), stripes (frequency f in cycles/pixel, angle θ, phase φ), objects. */
export interface CanvasScene {
  light: { s: number; psi: number };
  stripes: { f: number; theta: number; phi: number };
  objects: CanvasObject[];
}

/** An object's alpha map from a 28×28 digit in [−1, 1]: its central 20×20, area-resized to 16×16. */
export function objectFromDigit(digit: ArrayLike<number>): Float64Array {
  usage(digit.length === 784, `a digit must hold 28×28 = 784 values, got ${digit.length}`);
  const crop = 20;
  const out = new Float64Array(OBJECT_SIZE * OBJECT_SIZE);
  const span = (i: number): [number, number] => [Math.floor((i * crop) / OBJECT_SIZE), Math.ceil(((i + 1) * crop) / OBJECT_SIZE)];
  for (let i = 0; i < OBJECT_SIZE; i++) {
    const [r0, r1] = span(i);
    for (let j = 0; j < OBJECT_SIZE; j++) {
      const [c0, c1] = span(j);
      let s = 0;
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) s += (digit[(4 + r) * 28 + 4 + c] + 1) / 2;
      out[i * OBJECT_SIZE + j] = s / ((r1 - r0) * (c1 - c0));
    }
  }
  return out;
}

function checkObject(o: CanvasObject, k: number): void {
  usage(o.alpha.length === OBJECT_SIZE * OBJECT_SIZE, `object ${k}: its alpha map must hold 16×16 = 256 values, got ${o.alpha.length}`);
  const max = CANVAS_SIZE - OBJECT_SIZE;
  usage(Number.isInteger(o.x) && Number.isInteger(o.y) && o.x >= 0 && o.y >= 0 && o.x <= max && o.y <= max,
    `object ${k}: its corner must be whole pixels in 0…${max} so it lies on the canvas, got (${o.x}, ${o.y})`);
}

/** The scene's light L at every pixel. */
export function canvasLight(scene: CanvasScene): Float64Array {
  const S = CANVAS_SIZE;
  const { s, psi } = scene.light;
  const out = new Float64Array(S * S);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) out[y * S + x] = 0.65 + 2 * s * (((x + 0.5) / S - 0.5) * cos(psi) + ((y + 0.5) / S - 0.5) * sin(psi));
  }
  return out;
}

/** The scene as a 32×32 image in [−1, 1]. */
export function renderCanvas(scene: CanvasScene): Float64Array {
  const S = CANVAS_SIZE;
  const { f, theta, phi } = scene.stripes;
  const light = canvasLight(scene);
  const img = new Float64Array(S * S);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const stripes = 0.5 + 0.5 * sin(2 * Math.PI * f * (x * cos(theta) + y * sin(theta)) + phi);
      img[y * S + x] = light[y * S + x] * (0.15 + 0.3 * stripes);
    }
  }
  scene.objects.forEach((o, k) => {
    checkObject(o, k);
    for (let i = 0; i < OBJECT_SIZE; i++) {
      for (let j = 0; j < OBJECT_SIZE; j++) {
        const a = o.alpha[i * OBJECT_SIZE + j];
        const p = (o.y + i) * S + o.x + j;
        img[p] = (1 - a) * img[p] + 0.95 * a * light[p];
      }
    }
  });
  return img.map((v) => 2 * v - 1);
}

/** A random background (the training distribution's) with the given objects. */
export function randomBackground(rng: Rng, objects: CanvasObject[]): CanvasScene {
  const r = Array.from({ length: 5 }, () => rng.uniform());
  return {
    light: { s: 0.15 + 0.2 * r[0], psi: 2 * Math.PI * r[1] },
    stripes: { f: 1 / 9 + (1 / 5 - 1 / 9) * r[2], theta: Math.PI * r[3], phi: 2 * Math.PI * r[4] },
    objects,
  };
}

/** Moving object `object` of a scene by (dx, dy) pixels. */
export interface MoveEdit {
  object: number;
  dx: number;
  dy: number;
}

/** The scene with the edit applied: the true result of the move. */
export function movedScene(scene: CanvasScene, edit: MoveEdit): CanvasScene {
  usage(Number.isInteger(edit.object) && edit.object >= 0 && edit.object < scene.objects.length,
    `the object to move must be one of 0…${scene.objects.length - 1}, got ${edit.object}`);
  const o = scene.objects[edit.object];
  const moved = { ...o, x: o.x + edit.dx, y: o.y + edit.dy };
  checkObject(moved, edit.object);
  return { ...scene, objects: scene.objects.map((p, k) => (k === edit.object ? moved : p)) };
}

/** A 0/1 mask of an object on the canvas: alpha > `threshold`, grown by `grow` pixels (the user's selection). */
export function objectMask(o: CanvasObject, threshold = 0.1, grow = 1): Float64Array {
  const S = CANVAS_SIZE;
  const core = new Float64Array(S * S);
  for (let i = 0; i < OBJECT_SIZE; i++) {
    for (let j = 0; j < OBJECT_SIZE; j++) if (o.alpha[i * OBJECT_SIZE + j] > threshold) core[(o.y + i) * S + o.x + j] = 1;
  }
  const out = new Float64Array(S * S);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      let hit = 0;
      for (let a = -grow; a <= grow && !hit; a++) {
        for (let b = -grow; b <= grow && !hit; b++) {
          const yy = y + a;
          const xx = x + b;
          if (yy >= 0 && yy < S && xx >= 0 && xx < S && core[yy * S + xx]) hit = 1;
        }
      }
      out[y * S + x] = hit;
    }
  }
  return out;
}

/** A scene and a move of its first object. */
export interface CanvasMove {
  scene: CanvasScene;
  edit: MoveEdit;
}

/**
 * n scenes of two objects drawn from `pool` (alpha maps) on random backgrounds, each with a move of
 * the first object: corners in 1…15 (so a selection grown by a pixel stays on the canvas), the two
 * objects' squares overlapping by at most 4 pixels each way, the target overlapping the second object
 * by at most 2 and the move at least 8 pixels along x or y.
 */
export function randomMoves(pool: Float64Array[], n: number, rng: Rng): CanvasMove[] {
  usage(pool.length >= 1, 'give at least one object');
  usage(Number.isInteger(n) && n >= 1, `n must be a positive integer, got ${n}`);
  const corner = (): { x: number; y: number } => ({ x: 1 + Math.floor(rng.uniform() * 15), y: 1 + Math.floor(rng.uniform() * 15) });
  const pick = (): Float64Array => pool[Math.floor(rng.uniform() * pool.length)];
  const overlaps = (a: { x: number; y: number }, b: { x: number; y: number }, allowed: number): boolean =>
    Math.abs(a.x - b.x) < OBJECT_SIZE - allowed && Math.abs(a.y - b.y) < OBJECT_SIZE - allowed;
  const out: CanvasMove[] = [];
  while (out.length < n) {
    const a = { alpha: pick(), ...corner() };
    const b = { alpha: pick(), ...corner() };
    const to = corner();
    if (overlaps(a, b, 4) || overlaps(to, b, 2) || (Math.abs(to.x - a.x) < 8 && Math.abs(to.y - a.y) < 8)) continue;
    out.push({ scene: randomBackground(rng, [a, b]), edit: { object: 0, dx: to.x - a.x, dy: to.y - a.y } });
  }
  return out;
}
