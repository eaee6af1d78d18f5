/**
 * The measured verdicts of docs/results.md (`npm run results`) for the samplers that accelerate or
 * change a base sampler, shown in the Lab beside the choice: the page reads the results page itself,
 * so the verdict shown is the one the repository's last results run wrote.
 */
import results from '../../docs/results.md?raw';
import guidance from '../../docs/guidance-results.md?raw';

/** Where a verdict is read: a bold-led paragraph, a section's verdict or (`paragraph`) the paragraph holding the first "Verdict" after a heading or bold lead; `none` says why there is no verdict. */
interface Source { bold?: string; section?: string; paragraph?: string; page?: 'guidance'; none?: string }

const SOURCES: [RegExp, Source][] = [
  [/^dpm-solver-v3/, { bold: 'DPM-Solver-v3' }],
  [/^evodiff/, { bold: 'EVODiff' }],
  [/^dualfast-/, { bold: 'DualFast' }],
  [/^ts-/, { section: '## Time-Shift sampler vs its base' }],
  [/^flow-/, { section: '## Rectified-flow samplers' }],
  // the Lab's searches, named search:METHOD
  [/^search:autodiffusion$/, { section: '## Goal: best searched grid vs best standard sampler' }],
  [/^search:s3$/, { bold: 'S³' }],
  [/^search:lsd\+?$/, { bold: 'LSD / LSD+' }],
  // the Lab's guidance and posterior methods (docs/guidance-results.md)
  [/^posterior:smc$/, { paragraph: '**Ensemble SMC**', page: 'guidance' }],
  [/^posterior:red-diff$/, { paragraph: '**RED-Diff**', page: 'guidance' }],
  [/^posterior:flowchef$/, { paragraph: '## FlowChef', page: 'guidance' }],
  [/^posterior:(best-of-n|smc-search|beam|greedy|rbf)$/, { paragraph: '## Inference-time scaling for flow models', page: 'guidance' }],
  [/^guide:minority$/, { paragraph: '## Minority guidance', page: 'guidance' }],
  [/^posterior:(dps|pigdm|ideal)$/, { page: 'guidance', none: 'no verdict: a baseline there, its SW2 / MMD² / mean error rows are in the section "Posterior samplers"' }],
  [/^guide:(cfg|classifier)$/, { page: 'guidance', none: 'no verdict: exact identities (guided score = conditional score at w = 1, classifier guidance = the tilted mixture\'s score) are tested in test/guidance' }],
];

/** The verdict on a sampler, a search (`search:s3`), guidance (`guide:cfg`) or a posterior method (`posterior:smc`): its sentence from "Verdict" on (bold marks dropped), the page it is read from; undefined for the standard samplers. */
export function verdictFor(sampler: string, md: string = results, guidanceMd: string = guidance): { source: string; text: string; page: string } | undefined {
  const hit = SOURCES.find(([re]) => re.test(sampler));
  if (!hit) return undefined;
  const { bold, section, paragraph, page, none } = hit[1];
  const pageName = page === 'guidance' ? 'docs/guidance-results.md' : 'docs/results.md';
  if (none) return { source: 'measured results', text: none, page: pageName };
  const lines = (page === 'guidance' ? guidanceMd : md).split('\n');
  let line: string | undefined;
  if (bold) line = lines.find((l) => l.startsWith(`**${bold}**`));
  else if (section) {
    const start = lines.findIndex((l) => l.startsWith(section));
    line = start < 0 ? undefined : lines.slice(start + 1).find((l) => /^\*\*Verdict/.test(l) || l.startsWith('## '));
    if (line?.startsWith('## ')) line = undefined;
  } else if (paragraph) {
    // the paragraph that holds the first "Verdict" after the anchor, from "Verdict" to the blank line
    const start = lines.findIndex((l) => l.startsWith(paragraph));
    const at = start < 0 ? -1 : lines.findIndex((l, i) => i > start && l.includes('Verdict'));
    if (at >= 0) {
      const end = lines.findIndex((l, i) => i > at && l.trim() === '');
      line = lines.slice(at, end < 0 ? undefined : end).join(' ');
    }
  }
  const at = line?.indexOf('Verdict') ?? -1;
  if (!line || at < 0) return undefined;
  const source = bold ?? section?.slice(3) ?? (paragraph as string).replace(/^\*\*|\*\*$|^## /g, '');
  return { source, text: line.slice(at).replace(/\*\*/g, ''), page: pageName };
}
