/**
 * Results table for posterior samplers against exact posteriors (run: npx tsx test/guidance/results.ts).
 * For each problem: SW2, MMD² and mean error vs NFE of the ideal guided sampler (exact posterior
 * denoiser), DPS, ΠGDM and the unguided prior, next to a second set of exact posterior samples.
 */
import { Rng } from '../../src/core/rng.js';
import { inverseProblems, runMethod, score, type Method, type Scores } from './problems.js';

const n = Number(process.env.N ?? 1000);
const samplers = (process.env.SAMPLERS ?? 'dpmpp-2m,ddpm').split(',');
const stepsList = (process.env.STEPS ?? '10,20,50').split(',').map(Number);
const zetas = (process.env.ZETAS ?? '0.1,0.3,1').split(',').map(Number);
const fmt = (s: Scores) => `${s.sw2.toFixed(3)} | ${s.mmd2.toExponential(1)} | ${s.meanErr.toFixed(3)}`;

for (const p of inverseProblems()) {
  const reference = p.posterior.sample(n, new Rng(1));
  console.log(`\n### ${p.name}\n`);
  console.log('| method | sampler | NFE | SW2 | MMD² | mean err |\n|---|---|---|---|---|---|');
  console.log(`| exact posterior samples | — | — | ${fmt(score(p, p.posterior.sample(n, new Rng(2)), reference))} |`);
  const methods: [string, Method][] = [
    ['ideal', { kind: 'ideal' }],
    ...zetas.map((z): [string, Method] => [`DPS ζ=${z}`, { kind: 'dps', zeta: z }]),
    ['ΠGDM', { kind: 'pigdm' }],
    ['prior (unguided)', { kind: 'prior' }],
  ];
  for (const sampler of samplers) {
    for (const [label, m] of methods) {
      for (const steps of m.kind === 'prior' ? [stepsList[stepsList.length - 1]] : stepsList) {
        const r = await runMethod(p, m, sampler, steps, n, 3);
        console.log(`| ${label} | ${sampler} | ${r.nfe} | ${fmt(score(p, r.x, reference))} |`);
      }
    }
  }
}
