// Type-checked under strict TypeScript and run in an empty app with the packed tarball installed
// (scripts/pack-check.sh): the public API a user of the package writes against.
import { builtinProblem, createProcess, GaussianMixture, GmmOracle, guided, planSample, sample, type SampleResult, type SamplerOptions } from 'diffuse';
import { loadOnnxModel, loadStableDiffusion, pipelines, shippedModelCard, shippedModels, writeRgbaPng } from 'diffuse/node';
import { classifierFreeGuidance } from 'diffuse/guidance';
import { searchGrid } from 'diffuse/search';
import { discrete } from 'diffuse';
import { samplePfgm } from 'diffuse/pfgm';

const process = createProcess({ name: 'vp' });
const oracle = new GmmOracle(new GaussianMixture(builtinProblem('ring8')), process, 'epsilon');
const exact: SampleResult = await sample({ model: oracle, process, sampler: 'DPM++ 2M Karras', steps: 10, n: 8, seed: 0 });

// Options are typed per sampler name: a misspelled key fails to compile in the user's app too.
const typed: SamplerOptions<'unipc'> = { variant: 'bh1', order: 3 };
// @ts-expect-error "varient" is not an option of unipc
const typo: SamplerOptions<'unipc'> = { varient: 'bh1' };
const plan = planSample({ model: oracle, process, sampler: 'unipc', options: typed, steps: 6, n: 4, seed: 1 });

const names = (await shippedModels()).map((m) => m.name);
const net = await loadOnnxModel(await shippedModelCard('mnist'));
const digits = await sample({
  model: guided(net, { labels: [7, 7], scale: 2 }), process: net.process, sampler: 'dpmpp-2m', steps: 5, n: 2, seed: 0,
});
const finite = Array.from(digits.x.data).every(Number.isFinite);
console.log(JSON.stringify({
  exactNfe: exact.nfe, networks: names, digitsShape: digits.x.shape, finite, searchGrid: typeof searchGrid, cfg: typeof classifierFreeGuidance, discrete: typeof discrete.ancestral, pipeline: [typeof loadStableDiffusion, typeof pipelines.toRgba, typeof writeRgbaPng].join(), pfgm: typeof samplePfgm, planSteps: plan.grid.length - 1, typo: typeof typo,
}));
