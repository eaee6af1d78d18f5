import { existsSync, readFileSync } from 'node:fs';

/** Which int8 dot product this CPU has, from /proc/cpuinfo's flags (Linux): int8 kernels differ by it. */
export function int8Dot(): string {
  const flags = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  if (/\bavx512_vnni\b|\bavx_vnni\b/.test(flags)) return 'has VNNI (32-bit int8 dot products)';
  if (/\bavx2\b/.test(flags)) return 'has AVX2 without VNNI';
  return 'reports no AVX2 or VNNI flags';
}
