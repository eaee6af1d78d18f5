/** What the tabs share: a request/reply client for a worker, and their error boxes. */

/** A request without the id the client adds. */
export type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * Requests to a tab's worker, each answered by messages carrying its id. The worker starts on the
 * first request; `start` must be `() => new Worker(new URL('./x.ts', import.meta.url), …)` written
 * out, so that Vite bundles the worker.
 */
export function workerClient<Req extends { id: number }, Reply extends { id: number }>(start: () => Worker): (m: WithoutId<Req>, on: (r: Reply) => void) => void {
  let worker: Worker | undefined;
  let nextId = 1;
  const handlers = new Map<number, (r: Reply) => void>();
  return (m, on) => {
    if (!worker) {
      worker = start();
      worker.onmessage = (e: MessageEvent<Reply>) => handlers.get(e.data.id)?.(e.data);
    }
    const id = nextId++;
    handlers.set(id, on);
    worker.postMessage({ ...m, id });
  };
}

/** Show `message` in the error box `id` ('' hides it). */
export const errorBox = (id: string) => (message: string): void => {
  const box = document.getElementById(id) as HTMLElement;
  box.textContent = message;
  box.hidden = message === '';
};
