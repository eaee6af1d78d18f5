import type { OrtSession, OrtTensor } from './runtime.js';
import { RunError, UsageError } from '../../core/errors.js';

/**
 * The one way Diffuse drives an ONNX Runtime session (denoisers, masked LMs, classifiers,
 * calibration): runs queued so two never overlap on a session, batches split into chunks, and every
 * native tensor — feeds and results — disposed as soon as the run is read, whatever fails.
 */

/** Runs one after another: ONNX Runtime sessions must not run concurrently. */
export class RunQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Run `f` after everything queued before it; a failure does not block what follows. */
  enqueue<T>(f: () => Promise<T>): Promise<T> {
    const run = this.tail.then(f);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/**
 * One run: `feeds` are disposed after it, its results after `read` (which must copy what it keeps).
 * A runtime failure becomes a RunError naming `what`.
 */
export async function runOnce<T>(session: OrtSession, feeds: Record<string, OrtTensor>, read: (result: Record<string, OrtTensor>) => T, what: string): Promise<T> {
  let result: Record<string, OrtTensor>;
  try {
    result = await runSession(session, feeds, what);
  } finally {
    for (const f of Object.values(feeds)) f.dispose();
  }
  return readAndDispose(result, read);
}

/**
 * One run on feeds the caller keeps (and disposes) for other runs (calibration feeds the same batch
 * to the model, its augmented graph and its quantised build): the results are disposed after `read`.
 */
export async function runShared<T>(session: OrtSession, feeds: Record<string, OrtTensor>, read: (result: Record<string, OrtTensor>) => T, what: string): Promise<T> {
  return readAndDispose(await runSession(session, feeds, what), read);
}

async function runSession(session: OrtSession, feeds: Record<string, OrtTensor>, what: string): Promise<Record<string, OrtTensor>> {
  try {
    return await session.run(feeds);
  } catch (e) {
    throw new RunError(`ONNX Runtime failed ${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function readAndDispose<T>(result: Record<string, OrtTensor>, read: (result: Record<string, OrtTensor>) => T): T {
  try {
    return read(result);
  } finally {
    for (const r of Object.values(result)) r.dispose();
  }
}

/** n items in chunks of `chunk`: `feedsFor(start, m)` builds a chunk's inputs, `read(result, start, m)` stores its outputs. */
export async function runChunked(
  session: OrtSession, n: number, chunk: number,
  feedsFor: (start: number, m: number) => Record<string, OrtTensor>,
  read: (result: Record<string, OrtTensor>, start: number, m: number) => void,
  what: string,
): Promise<void> {
  const size = Math.max(1, chunk);
  for (let start = 0; start < n; start += size) {
    const m = Math.min(size, n - start);
    await runOnce(session, feedsFor(start, m), (r) => read(r, start, m), what);
  }
}

/** Throws a UsageError naming `source` when the graph lacks one of the input or output names a card gives. */
export function requireGraphNames(session: OrtSession, inputs: readonly string[], outputs: readonly string[], source: string): void {
  for (const name of inputs) {
    if (!session.inputNames.includes(name)) throw new UsageError(`${source}: the graph has no input "${name}"; its inputs: ${session.inputNames.join(', ')}`);
  }
  for (const name of outputs) {
    if (!session.outputNames.includes(name)) throw new UsageError(`${source}: the graph has no output "${name}"; its outputs: ${session.outputNames.join(', ')}`);
  }
}
