import { Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { createProcess, processes, type ProcessConfig } from '../process/index.js';
import { predictions, type Prediction } from '../param/convert.js';
import { findSampler } from '../samplers/index.js';
import { benchmark, DEFAULT_NFES, toCsv, toMarkdown, type BenchRow, type BenchSampler, type GridShape } from '../bench.js';
import { plotFormat, writePlot, writeTextFile } from '../io/files.js';
import { errorFigure, type Series } from '../io/plot.js';
import { gridFromArgs, integerArg, integerListArg, parseSamplerList, type GridArgs } from './args.js';
import { addGridOptions } from './sample.js';
import { defaultGrid } from '../sample.js';
import { loadExactModelArg } from './model.js';
import { checkSampleMemory } from './budget.js';
import { progressBar, type CliIo } from './io.js';
import { addResultFileOptions, emsText, fixedRow, fixedRuns, gridFileRuns, type ResultFileArgs } from './load.js';

/** One sampler of each main family: first order, multistep, single-step, predictor–corrector, linear multistep. */
export const DEFAULT_BENCH_SAMPLERS = ['ddim', 'dpmpp-2m', 'dpmpp-3m', 'unipc', 'deis', 'heun', 'lms'];

interface BenchArgs extends GridArgs, ResultFileArgs {
  model: string;
  prediction: Prediction;
  process: ProcessConfig['name'];
  samplers: string;
  nfe: number[];
  n: number;
  seed: number;
  out?: string;
  csv?: string;
  plot?: string;
  metric: 'median' | 'rms';
  quiet?: boolean;
  json?: boolean;
}

export function addBenchCommand(program: Command, io: CliIo): void {
  const cmd = program
    .command('bench')
    .description('error against the exact ODE endpoint per NFE budget, for several samplers on one model')
    .option('--model <spec>', 'builtin:NAME, gmm:FILE.json[#PROBLEM] or data:FILE.npy', 'builtin:ring8')
    .addOption(new Option('--prediction <type>', 'what the oracle model predicts').choices(predictions).default('epsilon'))
    .addOption(new Option('--process <name>', 'forward process').choices(processes.map((p) => p.name)).default('vp'))
    .option('--samplers <list>', 'comma-separated names, each optionally NAME:key=value:…', DEFAULT_BENCH_SAMPLERS.join(','))
    .option('--nfe <list>', 'NFE budgets', integerListArg(1, LIMITS.steps), [...DEFAULT_NFES]);
  addResultFileOptions(addGridOptions(cmd))
    .option('--n <n>', 'samples per run', integerArg(1, LIMITS.samples), 64)
    .option('--seed <seed>', 'seed of x_T and sampler noise', integerArg(0, LIMITS.seed), 0)
    .option('--out <file>', 'write the table as Markdown')
    .option('--csv <file>', 'write the table as CSV')
    .option('--plot <file>', 'log–log error vs NFE as .png or .svg')
    .addOption(new Option('--metric <m>', 'error plotted: median per-sample RMS or RMS over all').choices(['median', 'rms']).default('median'))
    .option('--quiet', 'print nothing but errors (and --json)')
    .option('--json', 'print the rows as JSON')
    .action(async (opts: BenchArgs) => runBench(opts, io));
}

/** The grid flags as a step-free grid shape for one sampler, or its default grid when none is given. */
function gridShapeFor(a: BenchArgs, sampler: string): GridShape | undefined {
  const entry = findSampler(sampler);
  const fallback = defaultGrid(entry.defaultGrid, 1);
  const spec = gridFromArgs(a, 1, fallback);
  if (!spec) return undefined;
  if (spec.type === 'explicit') throw new UsageError('bench chooses the steps per NFE budget; an explicit grid is not accepted');
  const { steps: _steps, ...shape } = spec;
  return shape;
}

async function runBench(a: BenchArgs, io: CliIo): Promise<void> {
  if (a.plot) plotFormat(a.plot);
  const model = await loadExactModelArg(a.model, 'bench');
  checkSampleMemory(a.n, model.gmm.d);
  const process = createProcess({ name: a.process });
  const ems = a.ems ? await emsText(a.ems) : undefined;
  const withEms = (s: { name: string; options: Record<string, string> }) => ({
    ...s, options: { ...s.options, ems }, label: `${s.name}(${[...Object.entries(s.options).map(([k, v]) => `${k}=${v}`), `ems=${a.ems}`].join(', ')})`,
  });
  const listed = parseSamplerList(a.samplers).map((s) => (ems && findSampler(s.name).name === 'dpm-solver-v3' ? withEms(s) : s));
  if (ems && !listed.some((s) => 'ems' in s.options)) throw new UsageError('--ems applies to dpm-solver-v3; add it to --samplers');
  const samplers: BenchSampler[] = listed.map((s) => ({ ...s, grid: gridShapeFor(a, s.name) }));
  if (samplers.length === 0) throw new UsageError('--samplers is empty; name at least one (see `diffuse list samplers`)');
  const fixed = [...(await fixedRuns(a)), ...(a.gridFile ? await gridFileRuns(a.gridFile, listed) : [])];
  const bar = progressBar(io, a.quiet === true || a.json === true, 'bench', 0);
  const rows = await benchmark({
    gmm: model.gmm, process, samplers, nfes: a.nfe, n: a.n, seed: a.seed, prediction: a.prediction,
    onProgress: (p) => bar.update(p.done, p.total, `runs | ${p.label} @ NFE ${p.budget}`),
  }).finally(() => bar.stop());
  for (const run of fixed) rows.push(await fixedRow(run, model.gmm, process, a.prediction, a.n, a.seed));
  const table = toMarkdown(rows);
  if (a.out) await writeTextFile(a.out, table);
  if (a.csv) await writeTextFile(a.csv, toCsv(rows));
  if (a.plot) {
    const title = `${model.label} on ${process.name}: error vs NFE (n=${a.n})`;
    const ylabel = a.metric === 'median' ? 'median per-sample RMS error' : 'RMS error';
    await writePlot(a.plot, errorFigure(seriesOf(rows, a.metric), { title, ylabel, xTicks: a.nfe }));
  }
  if (a.json) io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else if (!a.quiet) io.stdout.write(table);
}

function seriesOf(rows: readonly BenchRow[], metric: 'median' | 'rms'): Series[] {
  const byLabel = new Map<string, BenchRow[]>();
  for (const r of rows) byLabel.set(r.label, [...(byLabel.get(r.label) ?? []), r]);
  return [...byLabel].map(([name, rs]) => ({
    name,
    x: rs.map((r) => r.nfe),
    y: rs.map((r) => (metric === 'median' ? r.medianErr : r.rmsErr)),
  }));
}
