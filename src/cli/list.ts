import { Argument, type Command } from 'commander';
import { processes } from '../process/index.js';
import { namedRuns, samplers, unsupportedNames } from '../samplers/index.js';
import { gridTypes, type GridSpec } from '../grid/index.js';
import { builtinDescription, builtinNames } from '../models/oracle/builtin.js';
import type { SamplerEntry } from '../samplers/types.js';
import { shippedModels, type ShippedModel } from '../models/onnx/shipped.js';
import { searchedNames } from './load.js';
import { boundaryNames } from './restore.js';
import { gridFlags } from './args.js';
import { methodCommands } from './methods.js';
import type { CliIo } from './io.js';

/** Everything `diffuse list` shows, generated from the registries. */
export function catalogue(shipped: readonly ShippedModel[] = []) {
  return {
    processes: processes.map((p) => ({ name: p.name, description: p.description })),
    samplers: samplers.map((s) => ({
      name: s.name,
      family: s.family,
      order: s.order,
      stochastic: s.stochastic,
      aliases: [...s.aliases],
      options: s.defaults,
      choices: s.choices ?? {},
      defaultGrid: s.defaultGrid ?? null,
      description: s.description,
      cite: s.cite,
      references: (s.references ?? []).map((r) => `${r.library}:${r.name}`),
    })),
    grids: gridTypes().map((g) => ({ type: g.type, description: g.description, flags: gridFlags(g.type) })),
    references: samplers.flatMap((s) => (s.references ?? []).map((r) => ({ from: `${r.library}:${r.name}`, sampler: s.name }))),
    models: [
      ...shipped.map((m) => ({
        model: m.name, kind: m.kind, description: m.description,
        searched: m.kind === 'denoiser' ? searchedNames(m.card) : [], boundaries: m.kind === 'denoiser' ? boundaryNames(m.card) : [],
      })),
      ...builtinNames.map((name) => ({ model: `builtin:${name}`, kind: 'exact oracle', description: builtinDescription(name), searched: [] as string[], boundaries: [] as string[] })),
    ],
    names: [
      ...namedRuns.map((r) => ({ name: r.qualifiedOnly ? `${r.tool}:${r.name}` : r.name, tool: r.tool, sampler: r.sampler, options: r.options, grid: r.grid?.(10) ?? null, note: r.note ?? null })),
      ...unsupportedNames.map((u) => ({ name: u.name, tool: u.tool, sampler: null, options: {}, grid: null, note: `not in Diffuse: ${u.what}; nearest: ${u.nearest}` })),
    ],
    methods: methodCommands,
  };
}

type Topic = keyof ReturnType<typeof catalogue>;
const topics: Topic[] = ['processes', 'samplers', 'names', 'grids', 'references', 'models', 'methods'];

export function addListCommand(program: Command, io: CliIo): void {
  program
    .command('list')
    .description('list processes, samplers (with aliases and options), grids, reference translations, built-in models and the search/method commands')
    .addArgument(new Argument('[topic]', 'show one topic only').choices(topics))
    .option('--json', 'print as JSON')
    .action(async (topic: Topic | undefined, opts: { json?: boolean }) => {
      const all = catalogue(await shippedModels());
      const shown = topic ? [topic] : topics;
      if (opts.json) {
        io.stdout.write(`${JSON.stringify(topic ? all[topic] : all, null, 2)}\n`);
        return;
      }
      io.stdout.write(shown.map((t) => render[t](all)).join('\n'));
    });
}

const pad = (s: string, w: number) => s.padEnd(w);
const gridLabel = (g: GridSpec): string => (g.type === 'drop-penultimate' ? `${gridLabel(g.of)}, next-to-last dropped` : g.type);

function section(title: string, rows: string[]): string {
  return `${title}\n${rows.join('\n')}\n`;
}

const render: Record<Topic, (c: ReturnType<typeof catalogue>) => string> = {
  processes: (c) => section('Processes (--process)', c.processes.map((p) => `  ${pad(p.name, 13)}${p.description}`)),
  samplers: () => section('Samplers (--sampler NAME or any alias; options via --opt key=value)', samplers.map(describeSampler)),
  grids: (c) =>
    section('Grids (--grid)', c.grids.map((g) => `  ${pad(g.type, 16)}${g.description}${g.flags.length ? `; flags ${g.flags.join(' ')}` : ''}`)),
  references: (c) =>
    section(
      'Reference runs (--from LIBRARY:NAME --config FILE.json; the config may pick another sampler of the family)',
      c.references.map((r) => `  ${pad(r.from, 44)}→ ${r.sampler}`),
    ),
  names: (c) =>
    section(
      'Names from A1111 and ComfyUI (--sampler "NAME", exact spelling; the grid shown is for 10 steps, --grid replaces it)',
      c.names.map((r) => {
        const opts = Object.entries(r.options).map(([k, v]) => `${k}=${String(v)}`).join(' ');
        const run = r.sampler ? `${r.sampler}${opts ? ` ${opts}` : ''}${r.grid ? ` on ${gridLabel(r.grid)}` : ''}` : '—';
        return `  ${pad(`${r.tool} "${r.name}"`, 40)}${run}${r.note ? `\n  ${pad('', 40)}${r.note}` : ''}`;
      }),
    ),
  models: (c) =>
    section(
      'Models (--model NAME; networks ship in the package, oracles are exact; also gmm:FILE.json, data:FILE.npy, onnx:CARD.json)',
      c.models.map((m) => `  ${pad(m.model, 22)}${pad(m.kind, 14)}${m.description}${m.searched.length ? `\n  ${pad('', 36)}--searched ${m.searched.join(', ')}` : ''}${m.boundaries.length ? `\n  ${pad('', 36)}diffuse restore --boundary ${m.boundaries.join(', ')}` : ''}`),
    ),
  methods: (c) =>
    section(
      'Searches, result files and methods with their own loop (diffuse COMMAND --help for details)',
      c.methods.map((m) => `  ${pad(m.command, 14)}${m.description}\n  ${pad('', 14)}options: ${m.options.join(' ')}`),
    ),
};

function describeSampler(s: SamplerEntry): string {
  const kind = s.stochastic ? 'stochastic' : 'deterministic';
  const options = Object.entries(s.defaults).map(([k, v]) => {
    const choices = s.choices?.[k];
    return `${k}=${String(v)}${choices ? ` (${choices.join('|')})` : ''}`;
  });
  const lines = [`  ${pad(s.name, 20)}order ${s.order}, ${kind}: ${s.description}`];
  if (s.aliases.length) lines.push(`  ${pad('', 20)}aliases: ${s.aliases.join(', ')}`);
  if (options.length) lines.push(`  ${pad('', 20)}options: ${options.join(', ')}`);
  if (s.defaultGrid) lines.push(`  ${pad('', 20)}default grid: ${JSON.stringify(s.defaultGrid)}`);
  return lines.join('\n');
}
