import { UsageError, usage } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { maskedPsnr } from '../metrics/image.js';
import type { Model } from '../models/types.js';
import { CANVAS_SIZE, movedScene, objectMask, renderCanvas, type CanvasMove } from './canvas.js';
import { invertAndInpaint, laplaceFill, moveRegions, pixelManipulate, pixelman, type EditNet, type MoveRegions } from './pixelman.js';

/** How a move is carried out: PixelMan, DDIM inversion + masked regeneration, or copy-paste with a Laplace fill. */
export type EditMethod = 'pixelman' | 'invert' | 'copy-paste';

/** Every EditMethod. */
export const EDIT_METHODS: readonly EditMethod[] = ['pixelman', 'invert', 'copy-paste'];

/** Options of {@link editCanvasMoves}. */
export interface CanvasEditOptions {
  method: EditMethod;
  /** PixelMan's three-branch network (method pixelman). */
  net?: EditNet;
  /** The plain ε network (method invert). */
  model?: Model;
  alphaBar: ArrayLike<number>;
  /** PixelMan's steps (3 evaluations each), or the inversion's and the regeneration's steps each. */
  steps: number;
  rng: Rng;
  /** Inversion: keep the pixels outside the vacated region from the inversion at every step (default true). */
  blend?: boolean;
  /** PixelMan: leak-proof self-attention (default true). */
  leakProof?: boolean;
  /** Called after each PixelMan step with its index and timestep. */
  onStep?: (step: number, t: number) => void;
}

/** Per-edit PSNR (dB) against the true edit, by region. */
export interface EditScores {
  /** Outside the object's old and new place: consistency with the source. */
  background: Float64Array;
  /** The vacated pixels (m_ipt): the inpainting. */
  inpaint: Float64Array;
  /** The object's new place (m_gen): the object, re-lit. */
  object: Float64Array;
  /** The whole canvas. */
  all: Float64Array;
}

/** The result of {@link editCanvasMoves}: n canvases each (n × 32 × 32). */
export interface CanvasEditRun {
  source: Float64Array;
  manipulated: Float64Array;
  truth: Float64Array;
  edited: Float64Array;
  regions: MoveRegions[];
  /** Network evaluations per edit. */
  nfe: number;
  scores: EditScores;
}

/** Renders the moves' scenes, the pixel-manipulated inputs and the true results; edits them with the method and scores the edits. */
export async function editCanvasMoves(moves: CanvasMove[], o: CanvasEditOptions): Promise<CanvasEditRun> {
  const S = CANVAS_SIZE;
  const P = S * S;
  const n = moves.length;
  usage(n >= 1, 'give at least one move');
  usage(Number.isInteger(o.steps) && o.steps >= 1, `steps must be a positive integer, got ${o.steps}`);
  const source = new Float64Array(n * P);
  const manipulated = new Float64Array(n * P);
  const truth = new Float64Array(n * P);
  const regions = moves.map(({ scene, edit }, e) => {
    const x = renderCanvas(scene);
    source.set(x, e * P);
    truth.set(renderCanvas(movedScene(scene, edit)), e * P);
    const r = moveRegions(objectMask(scene.objects[edit.object]), S, edit.dx, edit.dy);
    manipulated.set(pixelManipulate(x, r, edit.dx, edit.dy), e * P);
    return r;
  });
  let edited: Float64Array;
  let nfe: number;
  if (o.method === 'pixelman') {
    usage(o.net !== undefined, 'PixelMan needs its three-branch network (an editing card)');
    usage(o.net.size === S, `the editing network edits ${o.net.size}×${o.net.size} images; canvases are ${S}×${S}`);
    edited = await pixelman(source, manipulated, regions, { net: o.net, alphaBar: o.alphaBar, steps: o.steps, rng: o.rng, leakProof: o.leakProof ?? true, ...(o.onStep ? { onStep: o.onStep } : {}) });
    nfe = 3 * o.steps;
  } else if (o.method === 'invert') {
    usage(o.model !== undefined, 'the inversion baseline needs the plain ε network');
    edited = await invertAndInpaint(manipulated, regions, { model: o.model, alphaBar: o.alphaBar, steps: o.steps, rng: o.rng, blend: o.blend ?? true });
    nfe = 2 * o.steps;
  } else if (o.method === 'copy-paste') {
    edited = new Float64Array(n * P);
    regions.forEach((r, e) => edited.set(laplaceFill(manipulated.subarray(e * P, (e + 1) * P), r.inpaint, S), e * P));
    nfe = 0;
  } else {
    throw new UsageError(`unknown editing method "${String(o.method)}"; accepted: ${EDIT_METHODS.join(', ')}`);
  }
  return { source, manipulated, truth, edited, regions, nfe, scores: scoreEdits(edited, truth, regions) };
}

/** PSNR of the edits against the true results by region (see EditScores). */
export function scoreEdits(edited: Float64Array, truth: Float64Array, regions: MoveRegions[]): EditScores {
  const n = regions.length;
  const S = regions[0].size;
  const P = S * S;
  const stack = (f: (r: MoveRegions) => ArrayLike<number>): Float64Array => {
    const out = new Float64Array(n * P);
    regions.forEach((r, e) => out.set(f(r), e * P));
    return out;
  };
  return {
    background: maskedPsnr(edited, truth, stack((r) => r.source.map((v, i) => (v || r.target[i] ? 0 : 1))), n, P),
    inpaint: maskedPsnr(edited, truth, stack((r) => r.inpaint), n, P),
    object: maskedPsnr(edited, truth, stack((r) => r.target), n, P),
    all: maskedPsnr(edited, truth, new Float64Array(n * P).fill(1), n, P),
  };
}
