import { SingleBar } from 'cli-progress';

/** Where the CLI writes: injectable so tests can run `main()` in-process and read what it printed. */
export interface Output {
  write(text: string): unknown;
}

export interface CliIo {
  stdout: Output;
  stderr: Output;
  /** A terminal to draw progress bars on; absent (no bar) when stdout or stderr is not a TTY. */
  progress?: NodeJS.WritableStream;
}

export function processIo(): CliIo {
  const tty = process.stdout.isTTY === true && process.stderr.isTTY === true;
  return { stdout: process.stdout, stderr: process.stderr, progress: tty ? process.stderr : undefined };
}

export interface Progress {
  /** `detail` follows the count, e.g. "steps | NFE 12". */
  update(done: number, total: number, detail: string): void;
  stop(): void;
}

const silent: Progress = { update: () => undefined, stop: () => undefined };

/**
 * A progress bar on the terminal for runs that take a while: it appears only once a run has
 * lasted `delayMs`, so quick runs print nothing extra.
 */
export function progressBar(io: CliIo, quiet: boolean, label: string, delayMs = 300): Progress {
  const stream = io.progress;
  if (quiet || !stream) return silent;
  const started = Date.now();
  let bar: SingleBar | undefined;
  return {
    update(done, total, detail) {
      if (!bar && Date.now() - started < delayMs) return;
      if (!bar) {
        bar = new SingleBar({
          stream,
          format: `${label} [{bar}] {value}/{total} {detail} | {duration_formatted}`,
          hideCursor: true,
          clearOnComplete: true,
        });
        bar.start(total, done, { detail });
      }
      bar.setTotal(total);
      bar.update(done, { detail });
    },
    stop() {
      bar?.stop();
    },
  };
}

/** A bar for loading a network's bytes (shown only when loading lasts, as every bar here). */
export function loadBar(io: CliIo, quiet: boolean): { onProgress: (p: { loaded: number; total?: number }) => void; stop(): void } {
  const bar = progressBar(io, quiet, 'loading');
  const kib = (b: number) => Math.round(b / 1024);
  return {
    onProgress: (p) => bar.update(kib(p.loaded), kib(p.total ?? p.loaded), 'KiB'),
    stop: () => bar.stop(),
  };
}
