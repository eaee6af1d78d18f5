import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * A short hash of files' paths and contents: what a bench's cached cell depends on besides its
 * settings (code, weights). A change to any file gives new keys, so --reuse never serves a number
 * measured on other code or weights. `content` may normalise a file first (default: its bytes).
 */
export function fingerprint(paths: readonly string[], content: (path: string) => Buffer | string = (p) => readFileSync(p)): string {
  const h = createHash('sha256');
  for (const p of paths) {
    h.update(p);
    h.update(content(p));
  }
  return h.digest('hex').slice(0, 16);
}
