import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { tensor } from '../core/tensor.js';
import {
  DISCRETE_CHAINS, DISCRETE_SAMPLER_NAMES, builtinOracle, checkDiscreteSampler, discreteStats, discreteTable, exactReference, runDiscreteSampler,
  type DiscreteStats,
} from '../discrete/bench.js';
import { writeNpyFile, writeTextFile } from '../io/files.js';
import { integerArg } from './args.js';
import type { CliIo } from './io.js';

/**
 * `diffuse sample-discrete` and `diffuse bench-discrete`: masked discrete diffusion on the built-in
 * Markov-chain oracles, with exact KL / TV / entropy / NLL.
 */

interface DiscreteArgs {
  chain: string;
  length: number;
  steps: number;
  n: number;
  seed: number;
  candidates: number;
  json?: boolean;
  out?: string;
}

interface SampleDiscreteArgs extends DiscreteArgs {
  sampler: string;
}

interface BenchDiscreteArgs extends DiscreteArgs {
  samplers: string;
}

function commonOptions(cmd: Command): Command {
  return cmd
    .option('--chain <name>', `built-in chain: ${DISCRETE_CHAINS.join(', ')}`, 'mixture3')
    .option('--length <L>', 'sequence length', integerArg(1), 4)
    .option('--steps <n>', 'denoising steps', integerArg(1), 8)
    .option('--n <n>', 'number of sequences', integerArg(1), 1000)
    .option('--seed <seed>', 'seed', integerArg(0), 0)
    .option('--candidates <k>', 'edlm: candidates per step', integerArg(1), 4)
    .option('--json', 'print JSON');
}

export function addDiscreteCommands(program: Command, io: CliIo): void {
  commonOptions(
    program
      .command('sample-discrete')
      .description('draw token sequences from a built-in Markov chain by masked discrete diffusion; print its exact statistics')
      .option('--sampler <name>', `one of ${DISCRETE_SAMPLER_NAMES.join(', ')}`, 'ancestral'),
  )
    .option('--out <file>', 'write the tokens: .npy (float64 token ids, shape [n, L]) or .json (nested int arrays)')
    .action(async (a: SampleDiscreteArgs) => sampleDiscrete(a, io));
  commonOptions(
    program
      .command('bench-discrete')
      .description('NFE, exact KL, TV, entropy and NLL per discrete sampler on a built-in Markov chain, as a Markdown table')
      .option('--samplers <list>', 'comma-separated sampler names', DISCRETE_SAMPLER_NAMES.join(',')),
  )
    .option('--out <file>', 'also write the table to a Markdown file')
    .action(async (a: BenchDiscreteArgs) => benchDiscrete(a, io));
}

function outFormat(path: string): 'npy' | 'json' {
  if (path.endsWith('.npy')) return 'npy';
  if (path.endsWith('.json')) return 'json';
  throw new UsageError(`--out ${path}: accepted extensions are .npy and .json`);
}

async function sampleDiscrete(a: SampleDiscreteArgs, io: CliIo): Promise<void> {
  checkDiscreteSampler(a.sampler);
  const format = a.out ? outFormat(a.out) : undefined;
  const oracle = builtinOracle(a.chain, a.length);
  const ref = exactReference(oracle);
  const cfg = { sampler: a.sampler, steps: a.steps, n: a.n, seed: a.seed, candidates: a.candidates };
  const s = await runDiscreteSampler(oracle, cfg);
  const stats = discreteStats(oracle, ref, s, cfg);
  const L = oracle.length;
  if (a.out && format === 'npy') await writeNpyFile(a.out, tensor('float64', [a.n, L], Float64Array.from(s.x)));
  if (a.out && format === 'json') {
    const rows = Array.from({ length: a.n }, (_, b) => Array.from(s.x.subarray(b * L, (b + 1) * L)));
    await writeTextFile(a.out, `${JSON.stringify(rows)}\n`);
  }
  if (a.json) io.stdout.write(`${JSON.stringify({ chain: a.chain, length: L, exactEntropy: ref.entropy, ...stats }, null, 2)}\n`);
  else io.stdout.write(header(a.chain, L, ref.entropy) + discreteTable([stats]));
}

function header(chain: string, L: number, h: number | null): string {
  const exact = h === null ? 'not enumerable: KL, TV and entropy omitted' : `exact entropy H(p) = ${h.toFixed(3)} nats`;
  return `${chain}, L = ${L}: ${exact}\n\n`;
}

async function benchDiscrete(a: BenchDiscreteArgs, io: CliIo): Promise<void> {
  const names = a.samplers.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new UsageError(`--samplers is empty; accepted: ${DISCRETE_SAMPLER_NAMES.join(', ')}`);
  names.forEach(checkDiscreteSampler);
  const oracle = builtinOracle(a.chain, a.length);
  const ref = exactReference(oracle);
  const rows: DiscreteStats[] = [];
  for (const sampler of names) {
    const cfg = { sampler, steps: a.steps, n: a.n, seed: a.seed, candidates: a.candidates };
    rows.push(discreteStats(oracle, ref, await runDiscreteSampler(oracle, cfg), cfg));
  }
  const table = header(a.chain, oracle.length, ref.entropy) + discreteTable(rows);
  if (a.out) await writeTextFile(a.out, table);
  if (a.json) io.stdout.write(`${JSON.stringify({ chain: a.chain, length: oracle.length, exactEntropy: ref.entropy, rows }, null, 2)}\n`);
  else io.stdout.write(table);
}
