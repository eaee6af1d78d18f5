import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GmmSpec } from '../../src/models/oracle/gmm.js';

/** shared/refs lives beside the repository (../shared/refs); DIFFUSE_REFS overrides. */
export const refsDir = process.env.DIFFUSE_REFS ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/refs');

function load<T>(name: string): T {
  const p = resolve(refsDir, name);
  if (!existsSync(p)) throw new Error(`reference data not found at ${p}; set DIFFUSE_REFS to the shared/refs folder`);
  return JSON.parse(readFileSync(p, 'utf8')) as T;
}

export interface RefCase {
  library: 'diffusers' | 'k-diffusion' | 'dpm-solver';
  sampler: string;
  label: string;
  config: Record<string, unknown> | null;
  config_overrides?: Record<string, unknown>;
  steps: number;
  nfe: number;
  timesteps?: number[] | null;
  sigmas?: (number | string)[] | null;
  init_noise_sigma?: number;
  x_T: string;
  gt: string;
  output: number[][];
  n_samples_stored: number;
  rms_err?: number;
  median_sample_rms_err?: number;
  mode_flips?: number;
  stochastic?: boolean;
  noise?: number[][][];
}

export interface Refs {
  cases: RefCase[];
  ground_truth_discrete: Record<string, { x_end: number[][] }>;
}

export interface Problem {
  gmm: GmmSpec;
  z: number[][];
}

export const refs = () => load<Refs>('refs_ring8.json');
export const ring8Problem = () => load<{ problems: { ring8: Problem } }>('problem_ring8.json').problems.ring8;
export const ring8GroundTruth = () =>
  load<{
    problems: {
      ring8: {
        vp_continuous: { beta_0: number; beta_1: number; t_start: number; t_end: number; x_end: number[][] };
        edm: { sigma_max?: number; x_end: number[][]; x_at_sigma_min: number[][] };
      };
    };
  }>('ground_truth_ring8.json').problems.ring8;

/** Relative RMS error ‖a − b‖ / ‖b‖ over all values. */
export function relRms(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

export function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
