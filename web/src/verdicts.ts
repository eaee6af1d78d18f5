/**
 * The measured verdicts of docs/results.md (`npm run results`) for the samplers that accelerate or
 * change a base sampler, shown in the Lab beside the choice: the page reads the results page itself,
 * so the verdict shown is the one the repository's last results run wrote.
 */
import results from '../../docs/results.md?raw';

/** Which part of docs/results.md speaks for a sampler: a bold-led paragraph or a section's verdict. */
const SOURCES: [RegExp, { bold?: string; section?: string }][] = [
  [/^dpm-solver-v3/, { bold: 'DPM-Solver-v3' }],
  [/^evodiff/, { bold: 'EVODiff' }],
  [/^dualfast-/, { bold: 'DualFast' }],
  [/^ts-/, { section: '## Time-Shift sampler vs its base' }],
  [/^flow-/, { section: '## Rectified-flow samplers' }],
  // the Lab's searches, named search:METHOD
  [/^search:autodiffusion$/, { section: '## Goal: best searched grid vs best standard sampler' }],
  [/^search:s3$/, { bold: 'S³' }],
  [/^search:lsd\+?$/, { bold: 'LSD / LSD+' }],
];

/** The verdict on a sampler or a search (`search:s3`; its sentence from "Verdict" on, bold marks dropped), or undefined for the standard samplers. */
export function verdictFor(sampler: string, md: string = results): { source: string; text: string } | undefined {
  const hit = SOURCES.find(([re]) => re.test(sampler));
  if (!hit) return undefined;
  const lines = md.split('\n');
  const { bold, section } = hit[1];
  let line: string | undefined;
  if (bold) line = lines.find((l) => l.startsWith(`**${bold}**`));
  else if (section) {
    const start = lines.findIndex((l) => l.startsWith(section));
    line = start < 0 ? undefined : lines.slice(start + 1).find((l) => /^\*\*Verdict/.test(l) || l.startsWith('## '));
    if (line?.startsWith('## ')) line = undefined;
  }
  const at = line?.indexOf('Verdict') ?? -1;
  if (!line || at < 0) return undefined;
  return { source: bold ?? (section as string).slice(3), text: line.slice(at).replace(/\*\*/g, '') };
}
