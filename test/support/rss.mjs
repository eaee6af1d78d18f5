// Preloaded into hostile-input runs: records the process's peak resident memory at exit.
import { writeFileSync } from 'node:fs';

const file = process.env.DIFFUSE_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
