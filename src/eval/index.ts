/** Sample quality of image networks (Node): classifiers, real data sets and the evaluation loop. */
export * from './classifier.js';
export * from './data.js';
export * from './evaluate.js';
export * from './text-to-image.js';
