import { InvalidArgumentError } from 'commander';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import type { GridEnd, GridSpec, GridType } from '../grid/index.js';

/** Parsers for option values; commander turns their errors into one "option … is invalid" line. */

/** An integer count from min to max: every count has an upper bound (core/limits.ts says why). */
export function integerArg(min: number, max: number): (value: string) => number {
  return (value) => {
    const v = Number(value);
    if (!(value.trim() !== '' && Number.isSafeInteger(v) && v >= min)) throw new InvalidArgumentError(`expected an integer ≥ ${min}`);
    if (v > max) throw new InvalidArgumentError(`${value.trim()} is above the limit of ${max.toLocaleString('en-US')}`);
    return v;
  };
}

export function numberArg(value: string): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError('expected a finite number');
  return v;
}

/** A path for an .npy file (the arrays a command writes); other extensions are refused, so no file gets a misleading name. */
export function npyPathArg(value: string): string {
  if (!/\.npy$/i.test(value)) throw new InvalidArgumentError(`expected a file name ending in .npy, got "${value}"`);
  return value;
}

/** A finite number > 0 (scales, rates). */
export function positiveArg(value: string): number {
  const v = numberArg(value);
  if (!(v > 0)) throw new InvalidArgumentError('expected a number > 0');
  return v;
}

/** A finite number ≥ 0 (durations). */
export function nonNegativeArg(value: string): number {
  const v = numberArg(value);
  if (!(v >= 0)) throw new InvalidArgumentError('expected a number ≥ 0');
  return v;
}

/** A comma-separated list of integers ≥ min, e.g. "5,10,20". */
export function integerListArg(min: number, max: number, maxItems = LIMITS.points): (value: string) => number[] {
  const one = integerArg(min, max);
  return (value) => {
    const items = value.split(',').map((s) => s.trim());
    if (items.some((s) => s === '')) throw new InvalidArgumentError(`expected comma-separated integers ≥ ${min}, e.g. 5,10,20`);
    if (items.length > maxItems) throw new InvalidArgumentError(`${items.length} items are above the limit of ${maxItems}`);
    return items.map(one);
  };
}

/** Class labels: comma-separated integers ≥ 0 or inclusive ranges, e.g. "3", "0..9", "1,7", "0..4,9". */
export function labelListArg(value: string): number[] {
  const bad = () => new InvalidArgumentError('expected class labels as integers or ranges, e.g. 3, 0..9 or 1,7');
  return value.split(',').flatMap((item) => {
    const m = /^\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?$/.exec(item);
    if (!m) throw bad();
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw bad();
    if (hi >= LIMITS.classes) throw new InvalidArgumentError(`label ${hi} is above the limit of ${LIMITS.classes - 1} (no model has more classes)`);
    return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  });
}

export function numberListArg(value: string): number[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new InvalidArgumentError('expected comma-separated numbers');
  if (items.length > LIMITS.steps + 1) throw new InvalidArgumentError(`${items.length} numbers are above the limit of ${LIMITS.steps + 1}`);
  return items.map(numberArg);
}

/** Repeatable key=value options, collected into one record. */
export function keyValueArg(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected key=value, e.g. --opt order=3');
  return { ...previous, [value.slice(0, eq).trim()]: value.slice(eq + 1).trim() };
}

export function gridEndArg(value: string): GridEnd {
  if (value === 'zero' || value === 'min') return value;
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError('expected zero, min or a process time');
  return v;
}

/** Grid options from the command line, by GridSpec field. */
export interface GridArgs {
  grid?: GridType;
  times?: number[];
  rho?: number;
  shift?: number;
  spacing?: 'linspace' | 'leading' | 'trailing';
  stepsOffset?: number;
  sigmaMin?: number;
  sigmaMax?: number;
  start?: number;
  end?: GridEnd;
}

/** Which grid types each option belongs to (the fields of GridSpec). */
const gridFields: Record<Exclude<keyof GridArgs, 'grid' | 'times'>, { flag: string; types: readonly GridType[] }> = {
  rho: { flag: '--rho', types: ['karras'] },
  shift: { flag: '--shift', types: ['flow-shift'] },
  spacing: { flag: '--spacing', types: ['diffusers'] },
  stepsOffset: { flag: '--steps-offset', types: ['diffusers'] },
  sigmaMin: { flag: '--sigma-min', types: ['karras', 'exponential'] },
  sigmaMax: { flag: '--sigma-max', types: ['karras', 'exponential'] },
  start: { flag: '--start', types: ['time-uniform', 'time-quadratic', 'logsnr', 'flow-shift'] },
  end: { flag: '--end', types: ['time-uniform', 'time-quadratic', 'logsnr', 'karras', 'exponential', 'flow-shift', 'diffusers'] },
};

/** The grid flags that apply to a grid type, for `diffuse list`. */
export function gridFlags(type: GridType): string[] {
  if (type === 'explicit') return ['--times'];
  return Object.values(gridFields)
    .filter((f) => f.types.includes(type))
    .map((f) => f.flag);
}

/**
 * The GridSpec the flags ask for, or undefined when they name none (the sampler's default grid).
 * Options given without --grid refine `fallback`, the sampler's default grid.
 */
export function gridFromArgs(a: GridArgs, steps: number, fallback: GridSpec): GridSpec | undefined {
  const keys = (Object.keys(gridFields) as (keyof typeof gridFields)[]).filter((k) => a[k] !== undefined);
  if (a.times) {
    if (a.grid && a.grid !== 'explicit') throw new UsageError(`--times gives an explicit grid; drop --grid ${a.grid}`);
    if (keys.length) throw new UsageError(`--times gives an explicit grid; drop ${keys.map((k) => gridFields[k].flag).join(', ')}`);
    return { type: 'explicit', times: a.times };
  }
  if (a.grid === 'explicit') throw new UsageError('--grid explicit needs --times t0,t1,…,tN (decreasing process times)');
  if (!a.grid && keys.length === 0) return undefined;
  const type = a.grid ?? fallback.type;
  const spec: Record<string, unknown> = a.grid ? { type, steps } : { ...fallback, steps };
  for (const k of keys) {
    const { flag, types } = gridFields[k];
    if (!types.includes(type)) {
      throw new UsageError(`${flag} applies to grid ${types.join(' or ')}, but the grid is ${type}${a.grid ? '' : ' (the sampler default; choose one with --grid)'}`);
    }
    spec[k] = a[k];
  }
  return spec as GridSpec;
}

/** "library:name" of --from, e.g. diffusers:DDIMScheduler. */
export function parseReference(value: string): { library: string; name: string } {
  const colon = value.indexOf(':');
  if (colon <= 0 || colon === value.length - 1) {
    throw new UsageError(`--from must be LIBRARY:NAME, e.g. diffusers:DDIMScheduler or k-diffusion:sample_euler; got "${value}"`);
  }
  return { library: value.slice(0, colon), name: value.slice(colon + 1) };
}

/** The sampler list of bench: "dpmpp-2m,unipc:order=3" → names with their options. */
export function parseSamplerList(value: string): { name: string; options: Record<string, string> }[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((item) => {
      const [name, ...opts] = item.split(':');
      let options: Record<string, string> = {};
      for (const o of opts) {
        try {
          options = keyValueArg(o, options);
        } catch {
          throw new UsageError(`--samplers item "${item}": options go as NAME:key=value:key=value`);
        }
      }
      return { name, options };
    });
}

