import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Option, type Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { fitLowRankGaussian, gaussiansFromTensor, gaussiansToTensor, type LowRankGaussian } from '../ode/teleport.js';
import { loadRealImages } from '../eval/data.js';
import { realDataSets, type RealData } from '../eval/classifier.js';
import { readNpyFile, writeNpyFile } from '../io/files.js';
import { integerArg } from './args.js';
import { progressBar, type CliIo } from './io.js';

/**
 * Gaussian teleportation from the CLI: `diffuse gaussians` fits the Gaussians a model folder ships
 * (gaussians.npy), and `--teleport` on sample and eval starts the sampler from x_T carried to the
 * grid's first time under them (ode/teleport.ts).
 */

/** The file beside a model card that holds its Gaussians. */
export const GAUSSIANS_FILE = 'gaussians.npy';

/**
 * The Gaussians shipped beside a model card: one per class then one for all the data (index K =
 * the null class), or one alone for an unconditional model.
 */
export async function loadGaussians(cardPath: string): Promise<LowRankGaussian[]> {
  const file = join(dirname(cardPath), GAUSSIANS_FILE);
  if (!existsSync(file)) throw new UsageError(`--teleport needs the Gaussians of the model's data beside its card: ${file} is missing (make it with \`diffuse gaussians --data … --out ${file}\`)`);
  return gaussiansFromTensor(await readNpyFile(file), file);
}

interface GaussiansArgs {
  data: RealData;
  rank: number;
  n?: number;
  out: string;
  quiet?: boolean;
}

export function addGaussiansCommand(program: Command, io: CliIo): void {
  program
    .command('gaussians')
    .description("fit low-rank Gaussians to a data set, one per class and one for all, for --teleport (write them as the model folder's gaussians.npy)")
    .addOption(new Option('--data <name>', 'the data set the model was trained on').choices(realDataSets).makeOptionMandatory())
    .option('--rank <k>', 'principal axes kept per Gaussian (the rest of the variance is spread evenly)', integerArg(0, 256), 16)
    .option('--n <count>', 'fit on this many images, spread evenly over the set (default: all of them)', integerArg(20, 1_000_000))
    .requiredOption('--out <file>', 'the .npy to write ([K + 1, rank + 2, dim] float32)')
    .option('--quiet', 'print nothing but errors')
    .action(async (a: GaussiansArgs) => {
      const data = await loadRealImages(a.data, a.n ?? Infinity);
      const dim = data.images.length / data.labels.length;
      const classes = Math.max(...data.labels) + 1;
      const bar = progressBar(io, a.quiet === true, 'gaussians');
      const gs: LowRankGaussian[] = [];
      for (let c = 0; c <= classes; c++) {
        bar.update(c, classes + 1, 'Gaussians');
        const rows = c < classes ? [...data.labels.keys()].filter((i) => data.labels[i] === c) : [...data.labels.keys()];
        const x = new Float64Array(rows.length * dim);
        rows.forEach((j, i) => x.set(data.images.subarray(j * dim, (j + 1) * dim), i * dim));
        gs.push(fitLowRankGaussian(x, rows.length, dim, a.rank));
      }
      bar.stop();
      await writeNpyFile(a.out, gaussiansToTensor(gs));
      if (!a.quiet) io.stdout.write(`${classes} class Gaussians and one for all ${data.labels.length} images of ${a.data}, rank ${a.rank}; wrote ${a.out}\n`);
    });
}
