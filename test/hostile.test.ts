import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeNpy } from '../src/io/npy.js';
import { tensor } from '../src/core/tensor.js';

/**
 * Hostile inputs, each run as a user would run it (the built CLI in its own process): every one
 * must end with exit code 2 (usage) or 1 (failure), one line on stderr naming the problem with no
 * stack frames, within a time limit, in bounded memory, leaving a pre-existing --out untouched.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'diffuse-hostile-'));
const f = (name: string) => join(dir, name);
const OLD = 'the user\'s old file\n';
/** Peak resident memory a refused input may reach (Node alone is ~50 MB). */
const MAX_RSS_KB = 400 * 1024;

const npy = (shape: number[], values: number[]) => encodeNpy(tensor('float64', shape, Float64Array.from(values)));
const card = (over: Record<string, unknown>) => JSON.stringify({ ...JSON.parse(readFileSync(join(root, 'models/mnist/card.json'), 'utf8')), onnx: join(root, 'models/mnist/mnist.onnx'), ...over });
const classifierCard = (over: Record<string, unknown>) => {
  const c = JSON.parse(readFileSync(join(root, 'models/mnist-classifier/card.json'), 'utf8'));
  return JSON.stringify({ ...c, onnx: join(root, 'models/mnist-classifier/classifier.onnx'), held_out: { ...c.held_out, file: join(root, 'models/mnist-classifier', c.held_out.file) }, ...over });
};
const searchFile = (state: unknown, method = 'autodiffusion') => JSON.stringify({ format: 'diffuse-search/1', method, model: 'builtin:ring8', process: { name: 'vp' }, sampler: 'dpmpp-2m', options: {}, nfe: 4, fitness: 1, initialFitness: 1, stopped: false, evaluations: 1, state });

const files: Record<string, string | Uint8Array> = {
  'old1.npy': OLD,
  'old2.npy': OLD,
  'old3.json': OLD,
  'old4.json': OLD,
  'old5.npy': OLD,
  'nan.npy': npy([4, 2], [0, 1, NaN, 2, 3, 4, 5, 6]),
  'inf.npy': npy([4, 2], [0, 1, 2, Infinity, 3, 4, 5, 6]),
  'ok.npy': npy([4, 2], [0, 1, 2, 3, 3, 4, 5, 6]),
  'wide.npy': npy([4, 3], new Array(12).fill(0)),
  'trunc.npy': npy([4, 2], [0, 1, 2, 3, 3, 4, 5, 6]).slice(0, 140),
  'garbage.npy': 'not an npy file at all',
  'bad.json': '{"type": "explicit", "times": [1, 0.5',
  'array.json': '[1, 2, 3]',
  'nan.json': '{"type": "explicit", "times": [1, NaN, 0]}',
  'grid-strings.json': '{"type": "explicit", "times": "1,0.5,0"}',
  'grid-mixed.json': '{"type": "explicit", "times": [1, "x", 0]}',
  'grid-up.json': '{"type": "explicit", "times": [0, 0.5, 1]}',
  'grid-proto.json': '{"type": "explicit", "times": [1, 0.5, 0], "__proto__": {"x": 1}}',
  'schedule-steps.json': '{"times": [1, 0.5, 0], "steps": "d2c,n1"}',
  'schedule-items.json': '{"times": [1, 0.5, 0], "steps": [5, 6]}',
  'schedule-order.json': '{"times": [1, 0.5, 0], "steps": [{"prediction": "data", "order": 9, "corrector": false}, {"prediction": "data", "order": 1, "corrector": false}]}',
  'schedule-count.json': '{"times": [1, 0.5, 0], "steps": [{"prediction": "data", "order": 1, "corrector": false}]}',
  'lsd-coeffs.json': '{"kind": "lsd", "plus": false, "times": [1, 0.5, 0], "coefficients": [1, 2]}',
  'lsd-count.json': '{"kind": "lsd", "plus": false, "times": [1, 0.5, 0], "coefficients": [[1, 0]]}',
  'ems-bad.json': '{"lambdas": "x"}',
  'resume-empty.json': searchFile({ kind: 'autodiffusion' }),
  'resume-types.json': searchFile({ kind: 'autodiffusion', options: {}, start: 'x', end: 0, coordinate: 'time', steps: 4, generation: 1, population: 3, initial: {}, history: [], evaluations: 1, archive: [] }),
  'resume-lsd.json': searchFile({ kind: 'lsd', grid: 'x' }, 'lsd'),
  'resume-kind.json': searchFile({ kind: 'lsd', options: { iterations: 1, learningRate: 0.02, perturbation: 0.02, plus: false, seed: 0 }, grid: [1, 0], iteration: 0, theta: [], m: [], v: [], best: { times: [1, 0], coefficients: [[1, 0]], fitness: 1 }, initialFitness: 1, history: [], evaluations: 1 }),
  'energy-types.json': '{"vocabSize": "x", "initial": [1], "transition": [[1]]}',
  'energy-shape.json': '{"vocabSize": 3, "initial": 5, "transition": 1}',
  'energy-huge.json': '{"vocabSize": 1000000000, "initial": [1], "transition": [[1]]}',
  'gmm-overflow.json': '{"gmm": {"d": 2, "K": 2, "weights": [1e308, 1e308], "means": [[0, 0], [1, 1]], "variances": [[1, 1], [1, 1]]}}',
  'gmm-huge.json': '{"gmm": {"d": 1000000000, "K": 1, "weights": [1], "means": [[0]], "variances": [[1]]}}',
  'gmm-types.json': '{"gmm": {"d": 2, "K": 1, "weights": "x", "means": [[0, 0]], "variances": [[1, 1]]}}',
  'card-classes.json': card({ num_classes: 1e9, null_class: 1e9 }),
  'card-timesteps.json': card({ process: { name: 'vp-discrete', numTrainTimesteps: 1e9 } }),
  'card-shape.json': card({ sample_shape: [1e6, 1e6] }),
  'classifier-shape.json': classifierCard({ sample_shape: 'abc' }),
  'classifier-huge.json': classifierCard({ num_classes: 1e12 }),
  'config-timesteps.json': '{"num_train_timesteps": 1000000000}',
  'garbage.onnx': 'not an onnx graph',
  'card-garbage-onnx.json': card({ onnx: 'garbage.onnx' }),
  'mlm-huge.json': JSON.stringify({ ...JSON.parse(readFileSync(join(root, 'models/text/card.json'), 'utf8')), vocab_size: 1e9 }),
  'config-proto.json': '{"beta_schedule": "constructor"}',
  'scheduler-scaled.json': '{"_class_name": "EulerDiscreteScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}',
  'scheduler-v.json': '{"_class_name": "EulerDiscreteScheduler", "prediction_type": "v_prediction"}',
  'config-nan.json': '{"beta_start": "x"}',
  'scheduler-svd.json': '{"_class_name": "EulerDiscreteScheduler", "sigma_min": 0.002, "sigma_max": 700, "use_karras_sigmas": true}',
  'scheduler-flux.json': '{"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 3.0, "use_dynamic_shifting": true}',
};

beforeAll(() => {
  for (const [name, body] of Object.entries(files)) writeFileSync(f(name), body);
  mkdirSync(f('a-dir'));
  writeFileSync(f('three-wide.npy'), encodeNpy(tensor('float64', [2, 3], new Float64Array(6))));
  writeFileSync(f('two-wide.npy'), encodeNpy(tensor('float64', [2, 2], new Float64Array(4))));
});

interface Case {
  args: string[];
  /** 2: the user's input is wrong; 1: a valid request failed. */
  code: 1 | 2;
  /** Words the error line must contain (what was wrong, what is accepted). */
  says?: (string | RegExp)[];
  /** A file that existed before the run and must be left as it was. */
  keeps?: string;
}

const sample = (...args: string[]) => ['sample', '--n', '8', '--steps', '4', ...args];

const cases: Record<string, Case> = {
  // 1. Counts beyond any real use are refused before work.
  'steps 1e9': { args: sample('--steps', '1000000000'), code: 2, says: ['--steps', 'limit'] },
  'n 1e9': { args: ['sample', '--n', '1000000000'], code: 2, says: ['--n', 'limit'] },
  'n within limit but over memory': { args: ['sample', '--model', 'builtin:gmm16', '--n', '9000000'], code: 2, says: ['GiB', '--max-memory'] },
  'eval n within limit but over memory': { args: ['eval', '--n', '9000000'], code: 2, says: ['GiB', '--max-memory'] },
  'ems samples within limit but over memory': { args: ['ems', '--model', 'builtin:gmm16', '--samples', '9000000', '--out', f('e3.json')], code: 2, says: ['GiB'] },
  'bench nfe 1e9': { args: ['bench', '--nfe', '1000000000'], code: 2, says: ['--nfe', 'limit'] },
  'search population 1e9': { args: ['search', '--out', f('s.json'), '--population', '1000000000'], code: 2, says: ['--population', 'limit'] },
  'ems points 1e9': { args: ['ems', '--out', f('e.json'), '--points', '1000000000'], code: 2, says: ['--points', 'limit'] },
  'gaussians rank 1e9': { args: ['gaussians', '--data', 'mnist', '--rank', '1000000000', '--out', f('g.npy')], code: 2, says: ['--rank'] },
  'gaussians unknown data': { args: ['gaussians', '--data', 'cifar10', '--out', f('g.npy')], code: 2, says: ['--data', 'mnist, fashion-mnist'] },
  'teleport on an exact mixture': { args: sample('--teleport', '--start', '0.5'), code: 2, says: ['--teleport', 'onnx: model'] },
  'dmcmc chains 1e9': { args: ['dmcmc', '--chains', '1000000000'], code: 2, says: ['--chains', 'limit'] },
  'labels 0..1e9': { args: ['sample', '--model', 'mnist', '--labels', '0..1000000000'], code: 2, says: ['--labels', 'limit'] },
  'discrete n 1e9': { args: ['sample', '--discrete', '--n', '1000000000'], code: 2, says: ['--n', 'limit'] },
  'card with 1e9 classes': { args: ['sample', '--model', `onnx:${f('card-classes.json')}`], code: 2, says: ['num_classes'] },
  'card with 1e9 timesteps': { args: ['sample', '--model', `onnx:${f('card-timesteps.json')}`], code: 2, says: ['numTrainTimesteps'] },
  'card with a huge sample shape': { args: ['sample', '--model', `onnx:${f('card-shape.json')}`], code: 2, says: ['sample_shape'] },
  'config with 1e9 timesteps': { args: ['sample', '--from', 'diffusers:DDIMScheduler', '--config', f('config-timesteps.json')], code: 2, says: ['num_train_timesteps'] },
  'gmm with d = 1e9': { args: sample('--model', `gmm:${f('gmm-huge.json')}`), code: 2, says: ['gmm-huge.json', '"d"'] },
  'energy with V = 1e9': { args: ['sample', '--discrete', '--model', 'text', '--sampler', 'edlm', '--energy', f('energy-huge.json')], code: 2, says: ['vocabSize'] },
  'classifier with 1e12 classes': { args: ['eval', '--n', '2', '--classifier', f('classifier-huge.json')], code: 2, says: ['num_classes'] },

  // 2. Names that are built-in object properties, and files of the wrong shape: one-line usage errors.
  'opt constructor': { args: sample('--opt', 'constructor=1'), code: 2, says: ['no option "constructor"', 'accepted'] },
  'opt toString': { args: sample('--opt', 'toString=1'), code: 2, says: ['no option "toString"'] },
  'opt __proto__': { args: sample('--opt', '__proto__=1'), code: 2, says: ['no option "__proto__"'] },
  'sampler constructor': { args: sample('--sampler', 'constructor'), code: 2, says: ['unknown sampler'] },
  'discrete sampler constructor': { args: ['sample', '--discrete', '--sampler', 'constructor'], code: 2, says: ['unknown discrete sampler', 'accepted'] },
  'discrete chain constructor': { args: ['sample', '--discrete', '--chain', 'constructor'], code: 2, says: ['unknown chain', 'accepted'] },
  'discrete chain __proto__': { args: ['bench', '--discrete', '--chain', '__proto__'], code: 2, says: ['unknown chain'] },
  'builtin constructor': { args: sample('--model', 'builtin:constructor'), code: 2, says: ['unknown built-in problem'] },
  'guide __proto__': { args: sample('--guide', 'cfg:__proto__=1,w=2,class=0'), code: 2, says: ['__proto__'] },
  'reference constructor': { args: sample('--from', 'diffusers:constructor'), code: 2, says: ['no translation'] },
  'config key constructor': { args: sample('--from', 'diffusers:DDIMScheduler', '--config', f('config-proto.json')), code: 2, says: ['beta_schedule'] },
  'config value of the wrong type': { args: sample('--from', 'diffusers:DDIMScheduler', '--config', f('config-nan.json')), code: 2, says: ['beta_start'] },
  'grid-file malformed': { args: sample('--grid-file', f('bad.json')), code: 2, says: ['bad.json', 'JSON'] },
  'grid-file array': { args: sample('--grid-file', f('array.json')), code: 2, says: ['array.json'] },
  'grid-file NaN literal': { args: sample('--grid-file', f('nan.json')), code: 2, says: ['nan.json'] },
  'grid-file times a string': { args: sample('--grid-file', f('grid-strings.json')), code: 2, says: ['"times"'] },
  'grid-file mixed times': { args: sample('--grid-file', f('grid-mixed.json')), code: 2, says: ['"times[1]"'] },
  'grid-file increasing': { args: sample('--grid-file', f('grid-up.json')), code: 2, says: ['decreasing'] },
  'grid-file __proto__ key': { args: sample('--grid-file', f('grid-proto.json')), code: 2, says: ['__proto__'] },
  'grid-file is a directory': { args: sample('--grid-file', f('a-dir')), code: 2, says: ['directory'] },
  'grid-file missing': { args: sample('--grid-file', f('missing.json')), code: 2, says: ['no such file'] },
  'schedule steps a string': { args: ['sample', '--schedule', f('schedule-steps.json')], code: 2, says: ['"steps"'] },
  'schedule steps numbers': { args: ['sample', '--schedule', f('schedule-items.json')], code: 2, says: ['"steps[0]"'] },
  'schedule order 9': { args: ['sample', '--schedule', f('schedule-order.json')], code: 2, says: ['order'] },
  'schedule step count': { args: ['sample', '--schedule', f('schedule-count.json')], code: 2, says: ['steps'] },
  'lsd coefficients not pairs': { args: ['sample', '--lsd', f('lsd-coeffs.json')], code: 2, says: ['"coefficients[0]"'] },
  'lsd coefficient count': { args: ['sample', '--lsd', f('lsd-count.json')], code: 2, says: ['coefficients'] },
  'ems bad': { args: sample('--sampler', 'dpm-solver-v3', '--ems', f('ems-bad.json')), code: 2, says: ['ems-bad.json'] },
  'resume empty state': { args: ['search', '--nfe', '4', '--generations', '1', '--out', f('s2.json'), '--resume', f('resume-empty.json')], code: 2, says: ['resume-empty.json', 'state'] },
  'resume wrong types': { args: ['search', '--nfe', '4', '--generations', '1', '--out', f('s3.json'), '--resume', f('resume-types.json')], code: 2, says: ['resume-types.json', 'state.'] },
  'resume lsd wrong types': { args: ['search', '--method', 'lsd', '--nfe', '4', '--iterations', '1', '--out', f('s4.json'), '--resume', f('resume-lsd.json')], code: 2, says: ['resume-lsd.json', 'state.'] },
  'resume state of another method': { args: ['search', '--nfe', '4', '--generations', '1', '--out', f('s6.json'), '--resume', f('resume-kind.json')], code: 2, says: ['state.kind'] },
  'energy wrong types': { args: ['sample', '--discrete', '--model', 'text', '--sampler', 'edlm', '--energy', f('energy-types.json')], code: 2, says: ['energy-types.json', 'vocabSize'] },
  'energy wrong shape': { args: ['sample', '--discrete', '--model', 'text', '--sampler', 'edlm', '--energy', f('energy-shape.json')], code: 2, says: ['energy-shape.json', 'initial'] },
  'classifier card bad shape': { args: ['eval', '--n', '2', '--classifier', f('classifier-shape.json')], code: 2, says: ['classifier-shape.json', 'sample_shape'] },
  'gmm weights of the wrong type': { args: sample('--model', `gmm:${f('gmm-types.json')}`), code: 2, says: ['weights'] },
  'noise truncated': { args: sample('--noise', f('trunc.npy')), code: 2, says: ['trunc.npy'] },
  'noise garbage': { args: sample('--noise', f('garbage.npy')), code: 2, says: ['garbage.npy'] },
  'noise wrong width': { args: sample('--noise', f('wide.npy')), code: 2, says: ['wide.npy', 'shape'] },

  // 3. Non-finite input is the user's, not the model's.
  'noise with NaN': { args: ['sample', '--noise', f('nan.npy')], code: 2, says: ['nan.npy', 'index', 'not finite'] },
  'z with Inf': { args: ['sample', '--z', f('inf.npy')], code: 2, says: ['inf.npy', 'not finite'] },
  'gmm weights overflow': { args: sample('--model', `gmm:${f('gmm-overflow.json')}`), code: 2, says: ['weights'] },
  'posterior data with NaN': { args: ['pfgm', '--model', `data:${f('nan.npy')}`], code: 2, says: ['nan.npy', 'not finite'] },

  'ε-prediction started at pure noise (flow, t = 1)': { args: ['sample', '--process', 'flow', '--sampler', 'flow-euler', '--steps', '4'], code: 2, says: ['no data estimate', 'α = 0'] },

  // 4. Long values are cut in the message.
  'a long bad value is truncated': { args: sample('--sampler', 'x'.repeat(70_000)), code: 2 },

  // More options that read a file, a name or a number.
  'bench schedule bad': { args: ['bench', '--nfe', '4', '--schedule', f('schedule-items.json')], code: 2, says: ['"steps[0]"'] },
  'bench ems bad': { args: ['bench', '--samplers', 'dpm-solver-v3', '--ems', f('ems-bad.json')], code: 2, says: ['ems-bad.json'] },
  'bench sampler constructor': { args: ['bench', '--samplers', 'constructor'], code: 2, says: ['unknown sampler'] },
  'ems data with NaN': { args: ['ems', '--method', 'estimate', '--model', 'mnist', '--data', f('nan.npy'), '--out', f('e2.json')], code: 2, says: ['nan.npy'] },
  'posterior measure constructor': { args: ['posterior', '--measure', 'constructor:m=1'], code: 2, says: ['constructor'] },
  'posterior method __proto__': { args: ['posterior', '--measure', 'project:m=1', '--method', '__proto__'], code: 2, says: ['__proto__'] },
  'posterior noise-std negative': { args: ['posterior', '--measure', 'project:m=1', '--noise-std', '-1'], code: 2, says: ['--noise-std'] },
  'interpolant from builtin:constructor': { args: ['interpolant', '--from', 'builtin:constructor'], code: 2, says: ['unknown built-in problem'] },
  'model card with a corrupt network': { args: ['sample', '--model', `onnx:${f('card-garbage-onnx.json')}`], code: 2, says: ['garbage.onnx'] },
  'masked-LM card with V = 1e9': { args: ['sample', '--discrete', '--model', `onnx:${f('mlm-huge.json')}`], code: 2, says: ['vocab_size'] },
  'labels outside the model\'s classes': { args: ['sample', '--model', 'mnist', '--labels', '12', '--n', '2', '--steps', '2'], code: 2, says: ['12'] },
  'cfg NaN': { args: sample('--cfg', 'NaN'), code: 2, says: ['--cfg'] },
  'rho Infinity': { args: sample('--grid', 'karras', '--rho', 'Infinity'), code: 2, says: ['--rho'] },
  'time-limit negative': { args: ['search', '--out', f('s5.json'), '--time-limit', '-5'], code: 2, says: ['--time-limit'] },
  'max-memory not a number': { args: ['--max-memory', 'lots', 'sample'], code: 2, says: ['--max-memory'] },
  'eval on an exact model': { args: ['eval', '--model', 'builtin:ring8'], code: 2, says: ['eval'] },
  'calibrate a missing augmented graph': { args: ['calibrate', '--model', 'mnist', '--augmented', f('missing.onnx'), '--out', f('c.json')], code: 2, says: ['missing.onnx'] },
  'opt with a non-number value': { args: sample('--sampler', 'unipc', '--opt', 'order=three'), code: 2, says: ['order'] },
  'opt order 1e9': { args: sample('--sampler', 'unipc', '--opt', 'order=1000000000'), code: 2, says: ['order'] },

  'scheduler config whose process is not the card\'s': { args: ['sample', '--model', 'mnist', '--scheduler-config', f('scheduler-scaled.json'), '--steps', '2', '--n', '2'], code: 2, says: ['scaled_linear', 'must agree'] },
  'scheduler config whose prediction is not the card\'s': { args: ['sample', '--model', 'mnist', '--scheduler-config', f('scheduler-v.json'), '--steps', '2', '--n', '2'], code: 2, says: ['v_prediction', 'epsilon'] },
  'scheduler config with a key Diffuse does not translate': { args: sample('--scheduler-config', f('scheduler-svd.json')), code: 2, says: ['EulerDiscreteScheduler', 'sigma_min=0.002', 'not translated'] },
  'FlowMatch config with dynamic shifting and no --mu': { args: sample('--scheduler-config', f('scheduler-flux.json')), code: 2, says: ['needs mu', '--mu'] },
  'img2img init of the wrong width': { args: sample('--init', f('three-wide.npy')), code: 2, says: ['init samples'] },
  'img2img strength that leaves no step': { args: ['sample', '--steps', '4', '--init', f('two-wide.npy'), '--strength', '0.01'], code: 2, says: ['leaves no step'] },

  // 5. Outputs: checked before work, an existing file kept when the run fails.
  'plot into a missing folder keeps --out': { args: sample('--out', f('old1.npy'), '--plot', f('no/such/dir/p.png')), code: 2, says: ['no/such/dir'], keeps: 'old1.npy' },
  'csv into a missing folder keeps --out': { args: ['bench', '--nfe', '4', '--n', '8', '--out', f('old3.json'), '--csv', f('no/such/t.csv')], code: 2, says: ['no/such'], keeps: 'old3.json' },
  'unwritable --out found before the work': { args: sample('--out', f('a-dir')), code: 2, says: ['directory'] },
  'out into a missing folder': { args: sample('--out', f('nope/x.npy')), code: 2, says: ['nope'] },
  'resume and out the same missing state': { args: ['search', '--nfe', '4', '--out', f('old4.json'), '--resume', f('old4.json')], code: 2, says: ['old4.json'], keeps: 'old4.json' },
  'bad plot extension keeps --out': { args: sample('--out', f('old2.npy'), '--plot', f('p.gif')), code: 2, says: ['.png'], keeps: 'old2.npy' },
};

function runCli(args: string[]): Promise<{ code: number | null; stderr: string; rssKb: number; signal: string | null }> {
  const rssFile = join(dir, `rss-${Math.random().toString(36).slice(2)}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=256', '--import', join(root, 'test/support/rss.mjs'), join(root, 'bin/diffuse.js'), ...args], {
      cwd: dir, env: { ...process.env, DIFFUSE_RSS_FILE: rssFile }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let rssKb = 0;
      try {
        rssKb = Number(readFileSync(rssFile, 'utf8'));
      } catch {
        rssKb = -1;
      }
      resolve({ code, stderr, rssKb, signal });
    });
  });
}

describe.concurrent('hostile inputs: one clear line, the right exit code, no hang, bounded memory, files kept', () => {
  for (const [name, c] of Object.entries(cases)) {
    it(name, async () => {
      const r = await runCli(c.args);
      expect(r.signal, 'killed (hang or abort)').toBeNull();
      expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: c.code });
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, 'exactly one line on stderr').toHaveLength(1);
      expect(lines[0]).toMatch(/^diffuse: /);
      expect(lines[0]).not.toMatch(/\n\s+at |TypeError|ReferenceError|RangeError|is not a function|Cannot read properties|is not iterable/);
      expect(lines[0].length, 'the error line quotes at most a short piece of any value').toBeLessThan(1000);
      for (const s of c.says ?? []) expect(lines[0]).toMatch(s);
      expect(r.rssKb).toBeGreaterThan(0);
      expect(r.rssKb).toBeLessThan(MAX_RSS_KB);
      if (c.keeps) expect(readFileSync(f(c.keeps), 'utf8')).toBe(OLD);
    }, 40_000);
  }
});

describe('a write that fails part-way', () => {
  it('leaves the old file as it was and no temporary file behind (file-size limit, ulimit -f)', async () => {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('bash', ['-c', `ulimit -f 8; exec "${process.execPath}" "${join(root, 'bin/diffuse.js')}" sample --n 2000 --out old5.npy`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(r.stderr).toMatch(/^diffuse: error: cannot write old5\.npy: the file is larger than the system allows\n$/);
    expect(r.code).toBe(2);
    expect(readFileSync(f('old5.npy'), 'utf8')).toBe(OLD);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  }, 30_000);
});
