import { Command, CommanderError } from 'commander';
import { UsageError } from '../core/errors.js';
import { addSampleCommand } from './sample.js';
import { addBenchCommand } from './bench.js';
import { addListCommand } from './list.js';
import { addDiscreteCommands } from './discrete.js';
import { addPosteriorCommand } from './posterior.js';
import { addTomographyCommand } from './tomography.js';
import { addRestoreCommand } from './restore.js';
import { addRewardCommand } from './reward.js';
import { addDeformCommand } from './deform.js';
import { addEditCommand } from './edit.js';
import { addSearchCommand } from './search.js';
import { addMethodCommands } from './methods.js';
import { addEvalCommand } from './eval.js';
import { addGaussiansCommand } from './teleport.js';
import { addCalibrateCommand } from './calibrate.js';
import { addGenerateCommand } from './generate.js';
import { addJobCommands } from './jobs.js';
import { processIo, type CliIo } from './io.js';
import { expandModelSpec } from './model.js';
import { numberArg } from './args.js';
import { budget } from './budget.js';
import { checkOutputs, plotFormat } from '../io/files.js';
import { DEFAULT_MEMORY_BUDGET } from '../core/limits.js';

/**
 * The `diffuse` command line: a thin shell that parses, calls the library and presents.
 * Exit codes: 0 ok, 2 usage error (bad flag, option, file or config), 1 failure while running.
 */

/** One line, with any very long word (a pasted value, a whole file) cut to 200 characters. */
const oneLine = (s: string) =>
  s
    .replace(/\s*\n\s*/g, ' ')
    .trim()
    .replace(/\S{201,}/g, (w) => `${w.slice(0, 199)}…`);

function program(io: CliIo): Command {
  const p = new Command('diffuse')
    .description('Diffusion and flow-matching samplers on exact Gaussian-mixture models')
    .version('0.1.0')
    .option('--max-memory <GiB>', 'memory a run may plan to use; larger runs are refused before they start (default 4)', numberArg)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`diffuse: ${oneLine(s)}\n`),
    });
  addSampleCommand(p, io);
  addBenchCommand(p, io);
  addListCommand(p, io);
  addDiscreteCommands(p, io);
  addPosteriorCommand(p, io);
  addTomographyCommand(p, io);
  addRestoreCommand(p, io);
  addRewardCommand(p, io);
  addDeformCommand(p, io);
  addEditCommand(p, io);
  addSearchCommand(p, io);
  addMethodCommands(p, io);
  addEvalCommand(p, io);
  addGaussiansCommand(p, io);
  addCalibrateCommand(p, io);
  addGenerateCommand(p, io);
  addJobCommands(p, io);
  p.hook('preAction', async (root, command) => {
    const gib: unknown = root.opts().maxMemory;
    if (typeof gib === 'number') {
      if (!(gib > 0)) throw new UsageError(`--max-memory must be a number of GiB > 0, got ${gib}`);
      budget.bytes = gib * 1024 * 1024 * 1024;
    }
    const outputs = ['out', 'plot', 'csv', 'saveSchedulerConfig', 'saveBoundary'].map((k): unknown => command.getOptionValue(k)).filter((v): v is string => typeof v === 'string');
    const plot: unknown = command.getOptionValue('plot');
    if (typeof plot === 'string') plotFormat(plot);
    await checkOutputs(outputs);
    const model: unknown = command.getOptionValue('model');
    if (typeof model === 'string' && !['generate', 'submit', 'search'].includes(command.name())) command.setOptionValue('model', await expandModelSpec(model));
  });
  return p;
}

/** `diffuse sample --discrete …` and `diffuse bench --discrete …` are the discrete commands. */
function routeDiscrete(argv: readonly string[]): string[] {
  const [command, ...rest] = argv;
  if ((command === 'sample' || command === 'bench') && rest.includes('--discrete')) {
    return [`${command}-discrete`, ...rest.filter((a) => a !== '--discrete')];
  }
  return [...argv];
}

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  budget.bytes = DEFAULT_MEMORY_BUDGET;
  try {
    await program(io).parseAsync(routeDiscrete(argv), { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    io.stderr.write(`diffuse: error: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
