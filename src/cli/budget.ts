import { checkMemory, DEFAULT_MEMORY_BUDGET, sampleBytes, WORKING_COPIES } from '../core/limits.js';

/** The memory budget of this run: 4 GiB unless `diffuse --max-memory <GiB>` raises or lowers it. */
export const budget = { bytes: DEFAULT_MEMORY_BUDGET };

/** Refuse a run over n samples of d values whose working set exceeds the budget, before it allocates. */
export function checkSampleMemory(n: number, d: number, copies = WORKING_COPIES): void {
  checkMemory(sampleBytes(n, d, copies), `${n} samples × ${d} values × 8 B × ${copies} working copies`, budget.bytes);
}
