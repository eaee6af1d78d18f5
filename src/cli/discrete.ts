import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { tensor } from '../core/tensor.js';
import {
  DISCRETE_CHAINS, DISCRETE_SAMPLER_NAMES, builtinOracle, checkDiscreteSampler, discreteStats, discreteTable, exactReference, runDiscreteSampler,
  type DiscreteStats,
} from '../discrete/bench.js';
import { MarkovOracle } from '../discrete/oracle/markov.js';
import { decodeTokens, loadMaskedModel } from '../discrete/onnx/node.js';
import { oracleScorer, type SequenceScorer } from '../discrete/samplers/edlm.js';
import { markovChainSchema, validate } from '../io/formats.js';
import { readJsonObject, writeNpyFile, writeTextFile } from '../io/files.js';
import { checkSampleMemory } from './budget.js';
import { integerArg } from './args.js';
import type { CliIo } from './io.js';

/**
 * `diffuse sample-discrete` and `diffuse bench-discrete`: masked discrete diffusion on the built-in
 * Markov-chain oracles, with exact KL / TV / entropy / NLL; `sample-discrete --model onnx:<card>` samples
 * an ONNX masked language model and prints its text.
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
  model?: string;
  energy?: string;
}

interface BenchDiscreteArgs extends DiscreteArgs {
  samplers: string;
}

function commonOptions(cmd: Command): Command {
  return cmd
    .option('--chain <name>', `built-in chain: ${DISCRETE_CHAINS.join(', ')}`, 'mixture3')
    .option('--length <L>', 'sequence length of the chain (a model\'s card fixes its own)', integerArg(1, LIMITS.sequence), 4)
    .option('--steps <n>', 'denoising steps', integerArg(1, LIMITS.steps), 8)
    .option('--n <n>', 'number of sequences', integerArg(1, LIMITS.samples), 1000)
    .option('--seed <seed>', 'seed', integerArg(0, LIMITS.seed), 0)
    .option('--candidates <k>', 'edlm: candidates per step', integerArg(1, LIMITS.population), 4)
    .option('--json', 'print JSON');
}

export function addDiscreteCommands(program: Command, io: CliIo): void {
  commonOptions(
    program
      .command('sample-discrete')
      .description('draw token sequences from a built-in Markov chain by masked discrete diffusion; print its exact statistics')
      .option('--sampler <name>', `one of ${DISCRETE_SAMPLER_NAMES.join(', ')}`, 'ancestral')
      .option('--model <spec>', 'onnx:<card.json>: sample an ONNX masked language model instead of a chain, and print its text')
      .option('--energy <chain.json>', 'edlm with --model: the autoregressive energy, a Markov chain (e.g. models/text/bigram.json)'),
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
  if (a.model !== undefined) return sampleModel(a, io);
  if (a.energy !== undefined) throw new UsageError('--energy goes with --model (a chain is its own energy)');
  if (a.out) outFormat(a.out);
  const oracle = builtinOracle(a.chain, a.length);
  checkSampleMemory(a.n, a.length);
  const ref = exactReference(oracle);
  const cfg = { sampler: a.sampler, steps: a.steps, n: a.n, seed: a.seed, candidates: a.candidates };
  const s = await runDiscreteSampler(oracle, cfg);
  const stats = discreteStats(oracle, ref, s, cfg);
  const L = oracle.length;
  if (a.out) await writeTokens(a.out, s.x, a.n, L);
  if (a.json) io.stdout.write(`${JSON.stringify({ chain: a.chain, length: L, exactEntropy: ref.entropy, ...stats }, null, 2)}\n`);
  else io.stdout.write(header(a.chain, L, ref.entropy) + discreteTable([stats]));
}

async function writeTokens(path: string, x: Int32Array, n: number, L: number): Promise<void> {
  if (outFormat(path) === 'npy') return writeNpyFile(path, tensor('float64', [n, L], Float64Array.from(x)));
  const rows = Array.from({ length: n }, (_, b) => Array.from(x.subarray(b * L, (b + 1) * L)));
  await writeTextFile(path, `${JSON.stringify(rows)}\n`);
}

/** `--model onnx:<card>`: sample the network, print decoded text (ids when the card has no tokenizer) and the NFE. */
async function sampleModel(a: SampleDiscreteArgs, io: CliIo): Promise<void> {
  const spec = a.model ?? '';
  if (!spec.startsWith('onnx:') || spec.length === 5) throw new UsageError(`--model ${spec}: accepted: onnx:<card.json> (a diffuse-mlm-card/v1 file)`);
  if (a.out) outFormat(a.out);
  const cardPath = spec.slice(5);
  const { model, card } = await loadMaskedModel(cardPath);
  const L = model.length;
  let energy: SequenceScorer | undefined;
  if (a.energy !== undefined) {
    const chain = new MarkovOracle(validate(markovChainSchema, await readJsonObject(a.energy), a.energy), L);
    if (chain.vocabSize !== model.vocabSize) throw new UsageError(`--energy ${a.energy}: its vocabulary has ${chain.vocabSize} tokens; the model's has ${model.vocabSize}`);
    energy = oracleScorer(chain);
  } else if (a.sampler === 'edlm') {
    throw new UsageError('edlm on a model needs --energy <chain.json>, an autoregressive energy over its tokens (e.g. models/text/bigram.json)');
  }
  const cfg = { sampler: a.sampler, steps: a.steps, n: a.n, seed: a.seed, candidates: a.candidates };
  const start = performance.now();
  const s = await runDiscreteSampler(model, cfg, energy);
  const seconds = (performance.now() - start) / 1000;
  const tokenizer = card.tokenizer;
  const texts = Array.from({ length: a.n }, (_, b) => {
    const row = s.x.subarray(b * L, (b + 1) * L);
    return tokenizer ? decodeTokens(tokenizer, row) : Array.from(row).join(' ');
  });
  if (a.out) await writeTokens(a.out, s.x, a.n, L);
  const stats = { model: cardPath, sampler: a.sampler, steps: a.steps, n: a.n, length: L, nfe: s.nfe, nfePerSequence: s.evaluations / a.n, drawsPerSequence: s.draws / a.n, seconds };
  if (a.json) {
    io.stdout.write(`${JSON.stringify({ ...stats, texts }, null, 2)}\n`);
    return;
  }
  io.stdout.write(`${cardPath}: ${a.sampler}, ${a.steps} steps, ${a.n} sequences of ${L} tokens: NFE ${s.nfe} calls, ` +
    `${stats.nfePerSequence.toFixed(2)} per sequence, ${seconds.toFixed(2)} s\n\n${texts.join('\n')}\n`);
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
  checkSampleMemory(a.n, a.length);
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
