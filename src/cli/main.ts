import { Command, CommanderError } from 'commander';
import { UsageError } from '../core/errors.js';
import { addSampleCommand } from './sample.js';
import { addBenchCommand } from './bench.js';
import { addListCommand } from './list.js';
import { addDiscreteCommands } from './discrete.js';
import { addPosteriorCommand } from './posterior.js';
import { addSearchCommand } from './search.js';
import { addMethodCommands } from './methods.js';
import { addEvalCommand } from './eval.js';
import { addCalibrateCommand } from './calibrate.js';
import { processIo, type CliIo } from './io.js';
import { expandModelSpec } from './model.js';

/**
 * The `diffuse` command line: a thin shell that parses, calls the library and presents.
 * Exit codes: 0 ok, 2 usage error (bad flag, option, file or config), 1 failure while running.
 */

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

function program(io: CliIo): Command {
  const p = new Command('diffuse')
    .description('Diffusion and flow-matching samplers on exact Gaussian-mixture models')
    .version('0.1.0')
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
  addSearchCommand(p, io);
  addMethodCommands(p, io);
  addEvalCommand(p, io);
  addCalibrateCommand(p, io);
  p.hook('preAction', async (_root, command) => {
    const model: unknown = command.getOptionValue('model');
    if (typeof model === 'string') command.setOptionValue('model', await expandModelSpec(model));
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
  try {
    await program(io).parseAsync(routeDiscrete(argv), { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    io.stderr.write(`diffuse: error: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
