// Type-checked under strict TypeScript and run in an empty app with the packed tarball installed
// (scripts/pack-check.sh): the public API a user of the package writes against.
import { builtinProblem, createProcess, GaussianMixture, GmmOracle, guided, sample, type SampleResult } from 'diffuse';
import { loadOnnxModel, shippedModelCard, shippedModels } from 'diffuse/node';
import { classifierFreeGuidance } from 'diffuse/guidance';
import { searchGrid } from 'diffuse/search';
import { discrete } from 'diffuse';

const process = createProcess({ name: 'vp' });
const oracle = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), process, 'epsilon');
const exact: SampleResult = await sample({ model: oracle, process, sampler: 'DPM++ 2M Karras', steps: 10, n: 8, seed: 0 });

const names = (await shippedModels()).map((m) => m.name);
const net = await loadOnnxModel(await shippedModelCard('mnist'));
const digits = await sample({
  model: guided(net, { labels: [7, 7], scale: 2 }), process: net.process, sampler: 'dpmpp-2m', steps: 5, n: 2, seed: 0,
});
const finite = Array.from(digits.x.data).every(Number.isFinite);
console.log(JSON.stringify({
  exactNfe: exact.nfe, networks: names, digitsShape: digits.x.shape, finite, searchGrid: typeof searchGrid, cfg: typeof classifierFreeGuidance, discrete: typeof discrete.ancestral,
}));
