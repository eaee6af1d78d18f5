/**
 * The built-in text-to-image model (models/t2i, training/tiny_t2i.py): how often the shipped MNIST /
 * Fashion-MNIST classifiers see the class a prompt names, per class, and the Fréchet distance of the
 * classifiers' features to their fits of 10 000 real images, for the model's own scheduler and other
 * samplers at several step counts, with and without guidance.
 *
 * Run: npx tsx bench/t2i-results.ts → writes docs/t2i-results.md. Env T2I_N sets the images per
 * class (default 100).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStableDiffusion } from '../src/pipelines/node.js';
import { captionClasses, scoreTextToImage, type TextToImageScores } from '../src/eval/text-to-image.js';
import { loadClassifier } from '../src/eval/classifier.js';
import { loadRealImages } from '../src/eval/data.js';
import { shippedModelCard } from '../src/models/onnx/shipped.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const N = Number(process.env.T2I_N ?? 100);
if (!existsSync(join(root, 'models/t2i/model_index.json'))) {
  console.error('models/t2i is missing: make it with /usr/bin/python3 training/tiny_t2i.py --out models/t2i');
  process.exit(2);
}
const pipe = await loadStableDiffusion(join(root, 'models/t2i'));
const runs: { label: string; sampler?: string; steps: number; guidance: number }[] = [
  { label: 'scheduler (DPM-Solver++ 2M)', steps: 20, guidance: 5 },
  { label: 'scheduler (DPM-Solver++ 2M)', steps: 10, guidance: 5 },
  { label: 'scheduler (DPM-Solver++ 2M)', steps: 5, guidance: 5 },
  { label: 'scheduler (DPM-Solver++ 2M)', steps: 20, guidance: 3 },
  { label: 'scheduler (DPM-Solver++ 2M)', steps: 20, guidance: 1 },
  { label: 'scheduler (DPM-Solver++ 2M)', steps: 20, guidance: 10 },
  { label: 'scheduler (DPM-Solver++ 2M)', steps: 20, guidance: 15 },
  { label: 'scheduler (DPM-Solver++ 2M), the CLI\'s defaults', steps: 50, guidance: 7.5 },
  { label: 'unipc', sampler: 'unipc', steps: 10, guidance: 5 },
  { label: 'ddim', sampler: 'ddim', steps: 10, guidance: 5 },
];
const results: [typeof runs[number], TextToImageScores][] = [];
for (const r of runs) {
  const s = await scoreTextToImage(pipe, { perClass: N, steps: r.steps, guidance: r.guidance, ...(r.sampler ? { sampler: r.sampler } : {}) });
  results.push([r, s]);
  console.log(`${r.label} ${r.steps} steps, guidance ${r.guidance}: accuracy ${s.accuracy.toFixed(3)}, FD mnist ${s.fd.mnist.toFixed(1)} fashion ${s.fd.fashion.toFixed(1)} (${s.seconds.toFixed(0)} s)`);
}
/** The classifier's own accuracy per class on the real images its recipe held out: the ceiling of what it can confirm. */
async function realAccuracy(name: 'mnist-classifier' | 'fashion-classifier'): Promise<number[]> {
  const c = await loadClassifier(await shippedModelCard(name));
  const real = await loadRealImages(c.data);
  const idx = c.heldOut.indices;
  const images = new Float64Array(idx.length * 784);
  idx.forEach((j, i) => images.set(real.images.subarray(j * 784, (j + 1) * 784), i * 784));
  const { logits } = await c.classify(images, idx.length);
  const [right, total] = [new Array(10).fill(0), new Array(10).fill(0)];
  idx.forEach((j, i) => {
    const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
    const y = real.labels[j];
    total[y]++;
    if (row.indexOf(Math.max(...row)) === y) right[y]++;
  });
  return right.map((r, k) => r / total[k]);
}
const ceiling = [...(await realAccuracy('mnist-classifier')), ...(await realAccuracy('fashion-classifier'))];
const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
const lines = [
  '# The built-in text-to-image model',
  '',
  `models/t2i, made by training/tiny_t2i.py. ${N} images per class (${20 * N} per row), seeds per class and batch; the shipped`,
  'classifiers score each image cropped to 28 × 28 grey levels. Accuracy: how often the classifier sees the class the',
  'prompt names. FD: Fréchet distance of the classifier\'s features to its shipped fit of 10 000 real images.',
  `Generated with \`npm run results:t2i\` on ${cpus().length} CPU cores.`,
  '',
  '| sampler | steps | guidance | NFE | accuracy | FD digits | FD clothes | seconds |',
  '|---|---|---|---|---|---|---|---|',
  ...results.map(([r, s]) => `| ${r.label} | ${r.steps} | ${r.guidance} | ${s.nfe} | ${pct(s.accuracy)} | ${s.fd.mnist.toFixed(1)} | ${s.fd.fashion.toFixed(1)} | ${s.seconds.toFixed(0)} |`),
  '',
  'Per class, for every row above (its sampler, steps and guidance in the column head). The last column is the',
  'classifier\'s own accuracy on the real images of that class its recipe held out (2 000 per data set; real shirts: 73 %).',
  'Strong guidance draws more prototypical images than the data\'s, which the classifier recognises more often than real ones:',
  `rows where every class is at or above 90 %: ${results.filter(([, s]) => s.perClass.every((c) => c.accuracy >= 0.9)).map(([r]) => `${r.sampler ?? 'scheduler'} ${r.steps} steps, guidance ${r.guidance}`).join('; ') || 'none'}.`,
  '',
  `| prompt | ${results.map(([r]) => `${r.sampler ?? 'scheduler'} ${r.steps}, g ${r.guidance}`).join(' | ')} | the classifier on real images |`,
  `|---|${results.map(() => '---|').join('')}---|`,
  ...captionClasses.map((c, i) => `| ${c.caption} | ${results.map(([, s]) => pct(s.perClass[i].accuracy)).join(' | ')} | ${pct(ceiling[i])} |`),
  '',
];
writeFileSync(join(root, 'docs/t2i-results.md'), lines.join('\n'));
console.log('wrote docs/t2i-results.md');
