import { auditDiffusersConfig, recordReads, UNTRANSLATED } from './diffusers-classes.js';
import { diffusersPrediction } from './diffusers.js';
import type { OptionValue, ReferenceMapping, SamplerEntry, SetTimesteps, Translation } from './types.js';
import { validate } from '../io/schema.js';
import { diffusersConfigSchema } from '../io/formats.js';
import { UsageError } from '../core/errors.js';
import type { GridSpec } from '../grid/index.js';
import { namedRuns, unsupportedNames, type NamedRun, type Tool, type UnsupportedName } from './names.js';
import { ddimSamplers } from './ddim.js';
import { pndmSamplers } from './pndm.js';
import { deisSamplers } from './deis.js';
import { dpmSolverSamplers } from './dpm-solver.js';
import { unipcSamplers } from './unipc.js';
import { eulerSamplers } from './euler.js';
import { lmsSamplers } from './lms.js';
import { timeShiftSamplers } from './time-shift.js';
import { flowSamplers } from './flow.js';
import { scheduleSamplers } from './schedule.js';
import { lsdSamplers } from './lsd.js';
import { evodiffSamplers } from './evodiff.js';
import { dualfastSamplers } from './dualfast.js';
import { dpmSolverV3Samplers } from './dpm-solver-v3.js';

export { namedRuns, unsupportedNames, type NamedRun, type UnsupportedName, type Tool } from './names.js';
export type { SamplerEntry, TypedEntry, OptionValue, SampleContext, SamplerFn, NoiseSampler, ReferenceMapping, Translation } from './types.js';

const registry = [
  ...ddimSamplers,
  ...pndmSamplers,
  ...deisSamplers,
  ...dpmSolverSamplers,
  ...unipcSamplers,
  ...eulerSamplers,
  ...lmsSamplers,
  ...timeShiftSamplers,
  ...flowSamplers,
  ...scheduleSamplers,
  ...lsdSamplers,
  ...evodiffSamplers,
  ...dualfastSamplers,
  ...dpmSolverV3Samplers,
];

/** Every sampler Diffuse has: one line per family file. */
export const samplers: readonly SamplerEntry[] = registry;

type Registered = (typeof registry)[number];

/** Diffuse's own sampler names (`diffuse list samplers`); aliases and other tools' names are plain strings. */
export type SamplerName = Registered['name'];

/**
 * The options of the sampler named N, each optional (the rest take the sampler's defaults): a
 * misspelled key fails to compile. Any other name (an alias, a diffusers class, an A1111 label)
 * takes untyped options, checked when the run starts.
 */
export type SamplerOptions<N extends string> = [N] extends [SamplerName]
  ? Partial<Declared<NonNullable<Extract<Registered, { name: N }>['__options']>>>
  : Readonly<Record<string, unknown>>;

/** T without its index signature (option types carry one to fit Record<string, OptionValue>). */
type Declared<T> = { [K in keyof T as string extends K ? never : K]: T[K] };


const norm = (s: string) => s.toLowerCase().replace(/[\s_+-]/g, (c) => (c === '+' ? 'p' : ''));

const namedEntries = new Map<string, SamplerEntry>();

/** A name from another tool as a sampler entry: the base sampler with the tool's options and grid. */
function namedEntry(run: NamedRun): SamplerEntry {
  const name = run.qualifiedOnly ? `${run.tool}:${run.name}` : run.name;
  let e = namedEntries.get(name);
  if (!e) {
    const base = samplers.find((s) => s.name === run.sampler) as SamplerEntry;
    const options = Object.entries(run.options).map(([k, v]) => `${k}=${String(v)}`).join(', ');
    const grid = run.grid?.(DEFAULT_NAMED_STEPS);
    e = {
      ...base,
      name,
      aliases: [],
      description: `${run.tool}'s "${run.name}": ${base.name}${options ? ` (${options})` : ''}${grid ? ` on the ${describeGrid(grid)} grid` : ''}${run.note ? `; ${run.note}` : ''}`,
      defaults: { ...base.defaults, ...run.options },
      ...(grid ? { defaultGrid: grid } : {}),
      references: [],
      named: run,
    };
    namedEntries.set(name, e);
  }
  return e;
}

const TOOLS: Readonly<Record<string, Tool>> = { a1111: 'A1111', comfyui: 'ComfyUI', comfy: 'ComfyUI' };

/** `Tool:name` (A1111:DDIM, ComfyUI:lms): the tool's meaning of its name, even where Diffuse has the same name. */
function findQualified(toolKey: string, name: string): SamplerEntry {
  const tool = Object.hasOwn(TOOLS, toolKey.toLowerCase()) ? TOOLS[toolKey.toLowerCase()] : undefined;
  if (!tool) throw new UsageError(`unknown tool "${toolKey}" in "${toolKey}:${name}"; accepted: A1111:NAME, ComfyUI:NAME (diffusers and k-diffusion configs go through --from LIBRARY:NAME)`);
  const runs = namedRuns.filter((r) => r.tool === tool);
  const missing = unsupportedNames.filter((u) => u.tool === tool);
  const key = norm(name);
  const run = runs.find((r) => r.name === name) ?? runs.find((r) => norm(r.name) === key);
  if (run) return namedEntry(run);
  const u = missing.find((m) => m.name === name) ?? missing.find((m) => norm(m.name) === key);
  if (u) unsupported(u);
  throw new UsageError(`${tool} has no sampler "${name}" that Diffuse knows; ${tool}'s names: ${[...runs.map((r) => r.name), ...missing.map((m) => m.name)].join(', ')}`);
}

const DEFAULT_NAMED_STEPS = 10;
const describeGrid = (g: GridSpec): string => (g.type === 'drop-penultimate' ? `${describeGrid(g.of)} (next-to-last σ dropped)` : g.type);

function unsupported(u: UnsupportedName): never {
  throw new UsageError(`${u.tool}'s "${u.name}" is ${u.what}, which Diffuse does not have; nearest: ${u.nearest}`);
}

/**
 * Find a sampler by name. The exact spelling of a name from A1111 or ComfyUI means what it means
 * there (sampler, options and grid: see names.ts); otherwise Diffuse's names, then those names
 * and every alias, case-, space-, dash- and underscore-insensitively. `Tool:name` (`ComfyUI:lms`,
 * `A1111:DDIM`) is the tool's meaning, also for the names Diffuse has too (NamedRun.qualifiedOnly).
 */
export function findSampler(name: string): SamplerEntry {
  const q = /^([A-Za-z0-9]+):(.+)$/.exec(name);
  if (q) return findQualified(q[1], q[2]);
  const exact = namedRuns.find((r) => r.name === name && !r.qualifiedOnly);
  if (exact) return namedEntry(exact);
  const missing = unsupportedNames.find((u) => u.name === name);
  if (missing) unsupported(missing);
  const key = norm(name);
  const own = samplers.find((s) => norm(s.name) === key);
  if (own) return own;
  const named = namedRuns.find((r) => norm(r.name) === key && !r.qualifiedOnly);
  if (named) return namedEntry(named);
  const missingNorm = unsupportedNames.find((u) => norm(u.name) === key);
  if (missingNorm) unsupported(missingNorm);
  const hit = samplers.find((s) => s.aliases.some((a) => norm(a) === key));
  if (!hit) {
    throw new UsageError(`unknown sampler "${name}"; accepted: ${samplers.map((s) => s.name).join(', ')}, or a name from diffusers, k-diffusion, A1111 or ComfyUI, or Tool:name for the tool's meaning (see \`diffuse list samplers\` and \`diffuse list names\`)`);
  }
  return hit;
}

/** Find the translation for a reference library's scheduler class or sampler function. */
export function findReference(library: string, name: string): ReferenceMapping {
  for (const s of samplers) {
    for (const r of s.references ?? []) {
      if (r.library !== library || r.name !== name) continue;
      if (library !== 'diffusers') return r;
      // Every diffusers class reads prediction_type the same way: the model's output type. Keys
      // the translation did not read are untranslated (an error) or unknown to the class (a warning).
      return {
        ...r,
        translate: (config, steps, run) => {
          const read = new Set<string>();
          const seen = recordReads(config, read);
          const t = r.translate(seen, steps, run);
          const prediction = t.prediction ?? diffusersPrediction(seen);
          const warnings = auditDiffusersConfig(r.name, config, read);
          return { ...t, prediction, ...(warnings.length ? { warnings } : {}) };
        },
      };
    }
  }
  const all = samplers.flatMap((s) => s.references ?? []);
  const libraries = [...new Set(all.map((r) => r.library))];
  if (!libraries.includes(library as ReferenceMapping['library'])) throw new UsageError(`no translations from "${library}"; accepted libraries: ${libraries.join(', ')}`);
  if (library === 'diffusers' && Object.hasOwn(UNTRANSLATED, name)) throw new UsageError(`diffusers ${name} is not translated: ${UNTRANSLATED[name]}`);
  const names = [...new Set(all.filter((r) => r.library === library).map((r) => r.name))];
  throw new UsageError(`no translation for ${library}:${name}; accepted ${library} names: ${names.join(', ')} (see \`diffuse list references\`)`);
}

/**
 * A diffusers `scheduler_config.json` as it is (the parsed JSON): `_class_name` picks the class, the
 * keys are checked by type and range, then translated (see findReference) for a run of `steps`
 * steps. `warnings` name the keys the class does not have; a key Diffuse does not translate throws.
 */
export function fromDiffusersConfig(config: unknown, steps: number, source = 'scheduler config', run: SetTimesteps = {}): Translation & { className: string } {
  const c = validate(diffusersConfigSchema, config, source);
  const cls = c._class_name;
  if (typeof cls !== 'string') throw new UsageError(`${source}: "_class_name" must name the diffusers scheduler class, e.g. "DPMSolverMultistepScheduler"; it is missing`);
  return { ...findReference('diffusers', cls).translate(c, steps, run), className: cls };
}

/**
 * Merge user options over a sampler's defaults, parsing strings (from the CLI) by the default's
 * type, rejecting unknown keys and values outside `choices`, then running the sampler's checks.
 */
export function resolveOptions(s: SamplerEntry, raw: Readonly<Record<string, unknown>> = {}): Record<string, OptionValue> {
  const out: Record<string, OptionValue> = { ...s.defaults };
  for (const [k, v] of Object.entries(raw)) {
    if (!Object.hasOwn(s.defaults, k)) {
      const known = Object.keys(s.defaults);
      throw new UsageError(`sampler ${s.name} has no option "${k}"; accepted: ${known.length ? known.join(', ') : '(none)'}`);
    }
    out[k] = parseOption(s.name, k, s.defaults[k], v);
    const allowed = s.choices && Object.hasOwn(s.choices, k) ? s.choices[k] : undefined;
    if (allowed && !allowed.includes(String(out[k]))) {
      throw new UsageError(`sampler ${s.name} option ${k}=${String(out[k])} is not accepted; accepted: ${allowed.join(', ')}`);
    }
  }
  s.validate?.(out);
  return out;
}

function parseOption(sampler: string, key: string, def: OptionValue, v: unknown): OptionValue {
  if (typeof def === 'number') {
    const x = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof x !== 'number' || Number.isNaN(x)) throw new UsageError(`sampler ${sampler} option ${key} must be a number, got ${JSON.stringify(v)}`);
    return x;
  }
  if (typeof def === 'boolean') {
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new UsageError(`sampler ${sampler} option ${key} must be true or false, got ${JSON.stringify(v)}`);
  }
  if (typeof v !== 'string') throw new UsageError(`sampler ${sampler} option ${key} must be a string, got ${JSON.stringify(v)}`);
  return v;
}
