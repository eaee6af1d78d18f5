import type { Command } from 'commander';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { Rng } from '../core/rng.js';
import { CorrectedModel, exactRewardTable, sampledRewardTable, type RewardRow } from '../discrete/finetune.js';
import { intPow } from '../discrete/oracle/markov.js';
import { parseReward } from '../discrete/reward.js';
import { loadMaskedModel } from '../discrete/onnx/node.js';
import type { DiscreteModel } from '../discrete/model.js';
import { writeTextFile } from '../io/files.js';
import { integerArg } from './args.js';
import { progressBar, type CliIo } from './io.js';

/**
 * `diffuse reward`: reward gained vs KL spent by a reward fine-tuned masked-diffusion model (DRAKES),
 * against best-of-N on its pretrained model and, where the law can be enumerated, the KL-optimal tilt.
 */

interface RewardArgs {
  model: string;
  pretrained?: string;
  reward?: string;
  steps?: number;
  bestOf: string;
  alphas?: string;
  n: number;
  seed: number;
  exact?: boolean;
  out?: string;
  json?: boolean;
  quiet?: boolean;
}

/** Exact tables enumerate (V + 1)^L states; past this the command samples. */
const EXACT_STATES = 1 << 20;

export function addRewardCommand(program: Command, io: CliIo): void {
  program
    .command('reward')
    .description('reward gained vs KL spent by a reward fine-tuned masked-diffusion model (DRAKES) against best-of-N and the KL-optimal law; exact for small models')
    .requiredOption('--model <spec>', 'onnx:<card.json> of the fine-tuned model (e.g. onnx:models/dna-drakes/alpha-0.3/card.json, onnx:models/text-drakes/card.json)')
    .option('--pretrained <spec>', 'onnx:<card.json> of the pretrained model (default: the card\'s base chain, or its fine_tuning.pretrained)')
    .option('--reward <spec>', 'motif:TOKENS (a motif count) or class:TOKENS (a token-class frequency); default: the card\'s fine_tuning.reward')
    .option('--steps <n>', 'ancestral sampler steps (default: the card\'s fine_tuning.steps)', integerArg(1, LIMITS.steps))
    .option('--best-of <list>', 'comma-separated N of the best-of-N rows', '2,4,8,16')
    .option('--alphas <list>', 'exact tables: comma-separated KL weights α of KL-optimal rows (default: the card\'s)')
    .option('--n <n>', 'sampled tables: fine-tuned samples (best-of-N draws n × N pretrained ones)', integerArg(1, LIMITS.samples), 256)
    .option('--seed <seed>', 'seed of the sampled tables', integerArg(0, LIMITS.seed), 0)
    .option('--no-exact', 'sample even when the law could be enumerated')
    .option('--out <file>', 'also write the table to a Markdown file')
    .option('--quiet', 'no progress bar')
    .option('--json', 'print JSON')
    .action(async (a: RewardArgs) => reward(a, io));
}

function cardPathOf(spec: string, flag: string): string {
  if (!spec.startsWith('onnx:') || spec.length === 5) throw new UsageError(`${flag} ${spec}: accepted: onnx:<card.json> (a diffuse-mlm-card/v1 file)`);
  return spec.slice(5);
}

function numberList(text: string, flag: string, integer: boolean): number[] {
  const values = text.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const ok = values.length > 0 && values.every((v) => (integer ? Number.isInteger(v) && v >= 1 && v <= 4096 : Number.isFinite(v) && v > 0));
  if (!ok) throw new UsageError(`${flag} "${text}": accepted: comma-separated ${integer ? 'integers 1..4096' : 'numbers > 0'}`);
  return values;
}

async function reward(a: RewardArgs, io: CliIo): Promise<void> {
  const cardPath = cardPathOf(a.model, '--model');
  const bestOf = numberList(a.bestOf, '--best-of', true);
  const tuned = await loadMaskedModel(cardPath);
  const ft = tuned.card.fineTuning;
  const spec = a.reward ?? ft?.reward;
  if (spec === undefined) throw new UsageError(`${cardPath} records no fine_tuning.reward: give --reward (motif:TOKENS or class:TOKENS)`);
  const steps = a.steps ?? ft?.steps ?? 8;
  const { length: L, vocabSize: V } = tuned.model;
  const r = parseReward(spec, V, L, tuned.card.tokenizer?.type === 'char' ? tuned.card.tokenizer.tokens : undefined);
  let pretrained: DiscreteModel;
  let pretrainedName: string;
  if (a.pretrained !== undefined) {
    pretrainedName = cardPathOf(a.pretrained, '--pretrained');
    pretrained = (await loadMaskedModel(pretrainedName)).model;
  } else if (tuned.model instanceof CorrectedModel) {
    pretrained = tuned.model.base;
    pretrainedName = `the exact oracle of ${tuned.card.base?.chain}`;
  } else if (ft?.pretrained !== undefined) {
    pretrainedName = resolve(dirname(cardPath), ft.pretrained);
    pretrained = (await loadMaskedModel(pretrainedName)).model;
  } else {
    throw new UsageError(`${cardPath} names no pretrained model (no base chain, no fine_tuning.pretrained): give --pretrained onnx:<card.json>`);
  }
  if (pretrained.length !== L || pretrained.vocabSize !== V) {
    throw new UsageError(`the pretrained model is over ${pretrained.length} tokens of ${pretrained.vocabSize}; the fine-tuned one over ${L} of ${V}`);
  }
  const exact = a.exact !== false && intPow(V + 1, L) <= EXACT_STATES;
  const head = { model: cardPath, pretrained: pretrainedName, reward: spec, rewardMax: r.max, steps, exact };
  let rows: RewardRow[];
  let extra: Record<string, number | null> = {};
  const bar = progressBar(io, a.quiet ?? false, exact ? 'exact laws' : 'sampling');
  const onStep = (d: number, total: number) => bar.update(d, total, 'steps');
  if (exact) {
    const alphas = a.alphas !== undefined ? numberList(a.alphas, '--alphas', false) : ft ? [ft.klWeight] : [];
    const t = await exactRewardTable(tuned.model, pretrained, r, { steps, bestOf, alphas, onStep });
    bar.stop();
    rows = t.rows;
    extra = { optimalAtSameKl: t.optimalAtSameKl, bestOfNAtSameKl: t.bestOfNAtSameKl };
  } else {
    if (a.alphas !== undefined) throw new UsageError('--alphas needs an exact table; this model\'s states are too many to enumerate');
    rows = await sampledRewardTable(tuned.model, pretrained, r, { steps, bestOf, n: a.n, rng: new Rng(a.seed), onStep });
    bar.stop();
  }
  const table = rewardMarkdown(rows, exact, a.n);
  if (a.out) await writeTextFile(a.out, table);
  if (a.json) {
    io.stdout.write(`${JSON.stringify({ ...head, ...extra, rows }, null, 2)}\n`);
    return;
  }
  const how = exact ? 'exact laws of the ancestral sampler' : `sampled: ${a.n} fine-tuned sequences, best-of-N from n × N pretrained ones`;
  let summary = '';
  if (exact) {
    const tunedRow = rows.find((w) => w.method === 'fine-tuned') as RewardRow;
    const bon = extra.bestOfNAtSameKl;
    summary = `\nAt the fine-tuned model's KL (${(tunedRow.kl as number).toFixed(3)} nats) the best any law reaches is E[r] = ${(extra.optimalAtSameKl as number).toFixed(4)}; ` +
      `best-of-N reaches ${bon === null ? 'no such KL with the listed N' : bon.toFixed(4)}; the fine-tuned model ${tunedRow.reward.toFixed(4)}.\n`;
  }
  io.stdout.write(`${cardPath}: reward ${spec} (max ${r.max}), ${steps} steps, pretrained = ${pretrainedName}; ${how}\n\n${table}${summary}`);
}

/** The rows as a Markdown table. */
export function rewardMarkdown(rows: readonly RewardRow[], exact: boolean, n: number): string {
  const f = (v: number | undefined | null, se?: number) => (v === undefined || v === null ? '—' : se === undefined ? v.toFixed(4) : `${v.toFixed(4)} ± ${se.toFixed(4)}`);
  const klHead = exact ? 'KL to pretrained law (exact)' : 'KL to pretrained law';
  const lines = [
    `| method | E[r] | ${klHead} | path KL | sampler runs per sample |`,
    '|---|---:|---:|---:|---:|',
    ...rows.map((w) => `| ${w.method} | ${f(w.reward, w.rewardSe)} | ${w.klKind === 'bound' ? `≤ ${f(w.kl)}` : f(w.kl)} | ${f(w.pathKl, w.pathKlSe)} | ${w.runsPerSample} |`),
  ];
  const note = exact ? '' : `\n± one standard error (n = ${n} kept sequences per row). Best-of-N's KL is the bound log N − (N−1)/N; the fine-tuned model's path KL bounds its KL.\n`;
  return `${lines.join('\n')}\n${note}`;
}
