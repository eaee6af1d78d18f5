import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { GridSpec } from '../grid/index.js';
import type { Process } from '../process/types.js';
import type { Prediction } from '../param/convert.js';
import { GaussianMixture, GmmOracle } from '../models/oracle/gmm.js';
import { findSampler } from '../samplers/index.js';
import { resolveGrid, sample } from '../sample.js';
import { pfOdeEndpoint } from '../ode/pf-ode.js';
import { sampleErrors } from '../metrics/error.js';
import type { BenchRow } from '../bench.js';
import { scheduleRun, lsdRun } from '../search/index.js';
import { explicitGridSchema, lsdCoefficientsSchema, searchFileSchema, solverScheduleSchema, teleportFileSchema, validate } from '../io/formats.js';
import { parseEms } from '../ems/index.js';
import { readJsonObject, readTextFile } from '../io/files.js';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Loading what searches and estimators wrote, for `diffuse sample` and `diffuse bench`:
 * --grid-file (an explicit grid, e.g. AutoDiffusion's), --schedule (an S³ solver schedule, run by the
 * `schedule` sampler), --lsd (LSD / LSD+ coefficients, run by the `lsd` sampler) and --ems (EMS JSON
 * for dpm-solver-v3). Each file is either the bare object or a `diffuse search` result holding it.
 */

export interface ResultFileArgs {
  searched?: string;
  /** A teleport run (diffuse-teleport/1) that --searched named. */
  teleportFile?: string;
  gridFile?: string;
  schedule?: string;
  lsd?: string;
  ems?: string;
}

export function addResultFileOptions(cmd: Command): Command {
  return cmd
    .option('--grid-file <file>', 'explicit grid JSON ({"type":"explicit","times":[…]} or a `diffuse search --method autodiffusion` result)')
    .option('--schedule <file>', 'S³ solver schedule JSON ({times, steps} or a `diffuse search --method s3` result), run by the schedule sampler')
    .option('--lsd <file>', 'LSD / LSD+ coefficients JSON (or a `diffuse search --method lsd|lsd+` result), run by the lsd sampler')
    .option('--ems <file>', 'EMS JSON for dpm-solver-v3 (from `diffuse ems`)')
    .option('--searched <name>', 'a search shipped with the network (a `diffuse search` result in its folder\'s searched/, e.g. unipc-nfe4; `diffuse list models` names them)');
}

/** The folder beside a model card that holds the searches shipped with it. */
export const SEARCHED_DIR = 'searched';

/** The names of the searches shipped beside a model card (its folder's searched/*.json). */
export function searchedNames(cardPath: string): string[] {
  return jsonNamesBeside(cardPath, SEARCHED_DIR);
}

/** The names (without .json) of the JSON files in a folder beside a model card, sorted; none if it has no such folder. */
export function jsonNamesBeside(cardPath: string, folder: string): string[] {
  const dir = join(dirname(cardPath), folder);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort() : [];
}

/**
 * --searched NAME: the model's shipped search result, loaded as the flag its method writes for
 * (--grid-file, --schedule or --lsd).
 */
async function withSearched(a: ResultFileArgs, cardPath: string | undefined): Promise<ResultFileArgs> {
  if (a.searched === undefined) return a;
  if (a.gridFile || a.schedule || a.lsd) throw new UsageError('--searched loads a shipped search; drop --grid-file, --schedule and --lsd');
  if (cardPath === undefined) throw new UsageError('--searched names a search shipped with a network (onnx: or a shipped NAME); for other models pass the file with --grid-file, --schedule or --lsd');
  const names = searchedNames(cardPath);
  if (!names.includes(a.searched)) {
    throw new UsageError(`the model ${cardPath} ships no search "${a.searched}"; ${names.length ? `it ships: ${names.join(', ')}` : `it ships none (its folder has no ${SEARCHED_DIR}/*.json)`}`);
  }
  const file = join(dirname(cardPath), SEARCHED_DIR, `${a.searched}.json`);
  const json = await readJsonObject(file);
  if (json.format === 'diffuse-teleport/1') return { ...a, teleportFile: file };
  const { method } = validate(searchFileSchema, json, file);
  return method === 'autodiffusion' ? { ...a, gridFile: file } : method === 's3' ? { ...a, schedule: file } : { ...a, lsd: file };
}

/** A sampler run a result file fixes: sampler (schedule/lsd files), options and explicit grid. */
export interface FixedRun {
  sampler: string;
  options: Record<string, unknown>;
  grid: GridSpec;
  label: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The object under `key` of a search result, or the file itself. */
async function payload(file: string, key: string): Promise<Record<string, unknown>> {
  const json = await readJsonObject(file);
  const inner = json.format === 'diffuse-search/1' ? json[key] : json;
  if (!isObject(inner)) throw new UsageError(`${file} holds no ${key}: expected the bare JSON or a diffuse search result with "${key}"`);
  return inner;
}

async function explicitGrid(file: string): Promise<GridSpec> {
  return validate(explicitGridSchema, await payload(file, 'grid'), file);
}

/** The sampler and options an AutoDiffusion result's grid was searched for (undefined for a bare grid file). */
async function searchedFor(file: string): Promise<{ sampler: string; options: Record<string, unknown> } | undefined> {
  const json = await readJsonObject(file);
  if (json.format !== 'diffuse-search/1') return undefined;
  const { sampler, options } = validate(searchFileSchema, json, file);
  return { sampler, options };
}

/** The runs of --schedule and --lsd, each with its explicit grid. */
export async function fixedRuns(a: ResultFileArgs): Promise<FixedRun[]> {
  const runs: FixedRun[] = [];
  if (a.schedule) {
    const s = validate(solverScheduleSchema, await payload(a.schedule, 'schedule'), a.schedule);
    runs.push({ ...scheduleRun(s), label: `schedule (${a.schedule})` });
  }
  if (a.lsd) {
    const coefficients = validate(lsdCoefficientsSchema, await payload(a.lsd, 'coefficients'), a.lsd);
    runs.push({ ...lsdRun(coefficients), label: `${coefficients.plus ? 'lsd+' : 'lsd'} (${a.lsd})` });
  }
  return runs;
}

/** The EMS JSON text of --ems, checked. */
export async function emsText(file: string): Promise<string> {
  const text = await readTextFile(file);
  try {
    parseEms(text);
  } catch (e) {
    throw new UsageError(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return text;
}

/**
 * `diffuse sample`'s plan with the result files applied: --schedule / --lsd replace the sampler and
 * grid, --grid-file the grid, --ems becomes dpm-solver-v3's ems option.
 */
export async function withResultFiles<P extends { sampler: string; options: Record<string, unknown>; grid?: GridSpec; teleport?: boolean }>(
  plan: P, files: ResultFileArgs, given: (key: string) => boolean, gridGiven: boolean, cardPath?: string,
): Promise<P> {
  const a = await withSearched(files, cardPath);
  if (a.teleportFile) {
    const t = validate(teleportFileSchema, await readJsonObject(a.teleportFile), a.teleportFile);
    const flag = `--searched ${files.searched}`;
    if (gridGiven) throw new UsageError(`${flag} fixes the grid; drop the grid flags`);
    if (a.gridFile || a.schedule || a.lsd || a.ems) throw new UsageError(`${flag} fixes the run; drop --grid-file, --schedule, --lsd and --ems`);
    if (given('sampler') || given('steps') || Object.keys(plan.options).length) throw new UsageError(`${flag} runs ${t.sampler} with ${t.grid.times.length - 1} steps and its own options; drop --sampler, --steps and --opt`);
    return { ...plan, sampler: t.sampler, options: t.options, grid: t.grid, teleport: true };
  }
  const chosen = [a.gridFile && '--grid-file', a.schedule && '--schedule', a.lsd && '--lsd'].filter(Boolean);
  if (chosen.length > 1) throw new UsageError(`${chosen.join(' and ')} each fix the grid; give one`);
  if (chosen.length && gridGiven) throw new UsageError(`${files.searched ? '--searched' : chosen[0]} fixes the grid; drop the grid flags`);
  let out: P = plan;
  const [run] = await fixedRuns(a);
  if (run) {
    const flag = files.searched ? `--searched ${files.searched}` : a.schedule ? '--schedule' : '--lsd';
    if (given('sampler') || Object.keys(plan.options).length) throw new UsageError(`${flag} runs the ${run.sampler} sampler with its own options; drop --sampler and --opt`);
    out = { ...out, sampler: run.sampler, options: run.options, grid: run.grid };
  }
  if (a.gridFile) {
    out = { ...out, grid: await explicitGrid(a.gridFile) };
    const made = await searchedFor(a.gridFile);
    if (made && given('sampler') && findSampler(out.sampler).name !== findSampler(made.sampler).name) {
      throw new UsageError(`${a.gridFile} is a grid searched for ${made.sampler}; drop --sampler to run it with ${made.sampler}, or search again for ${out.sampler}`);
    }
    if (made && !given('sampler')) {
      if (Object.keys(plan.options).length) throw new UsageError(`${a.gridFile} runs ${made.sampler} with the options it was searched with; drop --opt`);
      out = { ...out, sampler: made.sampler, options: made.options };
    }
  }
  if (a.ems) {
    if (findSampler(out.sampler).name !== 'dpm-solver-v3') throw new UsageError('--ems applies to --sampler dpm-solver-v3');
    out = { ...out, options: { ...out.options, ems: await emsText(a.ems) } };
  }
  return out;
}

/** One bench row for a run on a fixed grid: its NFE is its budget. */
export async function fixedRow(
  run: FixedRun, gmmSpec: ConstructorParameters<typeof GaussianMixture>[0], process: Process, prediction: Prediction, n: number, seed: number,
): Promise<BenchRow> {
  const gmm = new GaussianMixture(gmmSpec);
  const entry = findSampler(run.sampler);
  const grid = resolveGrid(process, run.grid, undefined, undefined);
  const xT = new Rng(seed).fork(0).fillNormal(new Float64Array(n * gmm.d)).map((v) => v * process.priorStd(grid[0]));
  const result = await sample({ model: new GmmOracle(gmm, process, prediction), process, sampler: entry.name, options: run.options, grid, xT, seed });
  const e = sampleErrors(result.x.data, pfOdeEndpoint(gmm, process, xT, grid[0], grid[grid.length - 1]), gmm);
  return {
    label: run.label, sampler: entry.name, grid: 'explicit', stochastic: entry.stochastic, budget: result.nfe, steps: grid.length - 1, nfe: result.nfe,
    rmsErr: e.rmsErr, medianErr: e.medianSampleRmsErr, maxAbsErr: e.maxAbsErr, modeFlips: e.modeFlips, rmsErrExclFlips: e.rmsErrExclFlips,
  };
}

/** Bench's --grid-file: the listed samplers on that grid, as fixed runs. */
export async function gridFileRuns(file: string, samplers: readonly { name: string; options: Record<string, unknown> }[]): Promise<FixedRun[]> {
  const grid = await explicitGrid(file);
  return samplers.map((s) => ({ sampler: s.name, options: s.options, grid, label: `${s.name} (${file})` }));
}
