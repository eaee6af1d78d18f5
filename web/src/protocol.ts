/** What the page asks the worker and what it answers (structured-clone data only). */

/** The Lab's settings, as the URL holds them. */
export interface LabState {
  /** A built-in 2-D mixture, or 'points' for the points the user drew or dropped (a finite data set). */
  problem: string;
  points: number[][];
  process: string;
  /** The sampler, and an optional second one run on the same noise ('' for none). */
  sampler: string;
  /**
   * A search fitted on the exact model before the first run ('' for none): 'autodiffusion' (the
   * sampler's time steps), 's3' (a solver schedule), 'lsd' or 'lsd+' (distilled coefficients), for an
   * NFE budget of `steps`, as `diffuse search` does; the first run then samples with its result.
   */
  search: string;
  /** Options of the first sampler ('' for its defaults), key=value separated by commas, as `diffuse sample --opt key=value` takes them, e.g. eta=1. */
  opts: string;
  /** Guidance of the first run ('' for none), as `diffuse sample --guide` takes it, e.g. cfg:w=3,class=0. */
  guide: string;
  /**
   * A posterior sampler instead of the first run ('' for none), as `diffuse posterior --method` takes it
   * (e.g. dps:zeta=5), on the measurement `measure` (e.g. inpaint:dims=0) with noise std `noise`.
   */
  posterior: string;
  measure: string;
  noise: number;
  compare: string;
  steps: number;
  /** A grid type, or 'default' for the sampler's own. */
  grid: string;
  n: number;
  seed: number;
  /** Samplers and NFE budgets of the error-vs-NFE chart. */
  bench: string[];
  nfes: number[];
}

/** One sampler's run on the Lab's problem. */
export interface RunResult {
  sampler: string;
  stochastic: boolean;
  grid: number[];
  nfe: number;
  seconds: number;
  /** The batch at the start and at each step boundary the sampler reports (n × 2 each), with its time. */
  frames: { t: number; x: number[] }[];
  /** Errors against the exact PF-ODE endpoint from the same x_T (absent for stochastic samplers or a start with α = 0). */
  error?: { rmsErr: number; medianSampleRmsErr: number; maxAbsErr: number; modeFlips: number };
  /** Why there is no error, when there is none. */
  note?: string;
  /** The search the run's sampler, options and grid came from: its fitness on its own noise (start → best), runs and time. */
  search?: { method: string; initialFitness: number; fitness: number; evaluations: number; seconds: number };
  /** A posterior run's scores against exact posterior samples (`diffuse posterior --json`'s), and its y. */
  posterior?: { sw2: number; mmd2: number; meanErr: number; covErr: number; exactSw2: number; reward: number; y: number[]; m: number };
}

/** The exact probability-flow path of x_T at the first sampler's grid times. */
export interface ExactPath {
  times: number[];
  frames: number[][];
}

/** Everything the Lab draws for one setting. */
export interface LabResult {
  means: number[][];
  stds: number[];
  runs: RunResult[];
  exact?: ExactPath;
}

/** One row of the error-vs-NFE chart (diffuse bench's columns). */
export interface BenchPoint {
  label: string;
  budget: number;
  steps: number;
  nfe: number;
  medianErr: number;
  rmsErr: number;
  modeFlips: number;
}

export type Request =
  | { id: number; kind: 'run'; state: LabState }
  | { id: number; kind: 'bench'; state: LabState };

export type Reply =
  | { id: number; kind: 'run'; result: LabResult }
  | { id: number; kind: 'bench'; rows: BenchPoint[] }
  | { id: number; kind: 'progress'; done: number; total: number; label: string }
  | { id: number; kind: 'error'; message: string };

/** Choices the page offers (the worker accepts any name the library knows). */
export interface Catalog {
  problems: { name: string; description: string }[];
  processes: { name: string; description: string }[];
  samplers: { name: string; description: string; stochastic: boolean }[];
  grids: { type: string; description: string }[];
  searches: { name: string; description: string }[];
}

/** The Networks tab's settings, as the URL holds them. */
export interface NetState {
  model: 'mnist' | 'fashion';
  classes: number[];
  perClass: number;
  guidance: number;
  sampler: string;
  steps: number;
  seed: number;
  /** Where the network runs: 'auto' (WebGPU on a hardware adapter, else WebAssembly), or one of them. */
  backend: 'auto' | 'webgpu' | 'wasm';
  /**
   * Gaussian teleportation: run the model's shipped teleport run for this step count (3–5) and guidance
   * (searched/teleport-nfeN.json at guidance 1, -cfg2.json otherwise), as `diffuse sample --searched` does.
   */
  teleport: boolean;
}

export type NetRequest =
  | ({ id: number; kind: 'generate'; base: string } & NetState)
  | { id: number; kind: 'score'; base: string };

export type NetReply =
  | { id: number; kind: 'load'; file: string; loaded: number; total: number }
  | { id: number; kind: 'x0'; call: number; x0: number[] }
  | {
    id: number; kind: 'images'; images: number[]; labels: number[]; backend: string; threads: number;
    nfe: number; steps: number; loadMs: number; sampleMs: number; msPerCall: number;
    /** What ran: the sampler, or the teleport run's name, sampler and start. */
    run: string;
  }
  | { id: number; kind: 'score'; accuracy: number; predicted: number[]; fd: number }
  | { id: number; kind: 'error'; message: string };

/** The Text tab's settings, as the URL holds them. */
export interface TextState {
  sampler: string;
  steps: number;
  n: number;
  seed: number;
}

export type TextRequest =
  | ({ id: number; kind: 'text'; base: string } & TextState)
  | { id: number; kind: 'text-compare'; base: string; samplers: string[]; steps: number; n: number; seed: number };

export interface TextRun {
  sampler: string;
  texts: string[];
  nfe: number;
  nfePerSequence: number;
  seconds: number;
}

export type TextReply =
  | { id: number; kind: 'tokens'; call: number; texts: string[] }
  | ({ id: number; kind: 'text' } & TextRun)
  | { id: number; kind: 'text-compare'; runs: TextRun[] }
  | { id: number; kind: 'error'; message: string };

/** The Text-to-image tab's settings (the URL holds all but an opened folder). */
export interface T2iState {
  prompt: string;
  negative: string;
  steps: number;
  guidance: number;
  seed: number;
  n: number;
  /** '' for the folder's scheduler, else a Diffuse sampler. */
  sampler: string;
}

/** Where the pipeline comes from: a folder served with the page, or files the user opened. */
export type T2iSource = { kind: 'url'; url: string } | { kind: 'files'; name: string; files: { path: string; file: File }[] };

export type T2iRequest = { id: number; kind: 't2i'; source: T2iSource } & T2iState;

export type T2iReply =
  | { id: number; kind: 'load'; file: string; loaded: number; total: number }
  | { id: number; kind: 'step'; step: number; total: number; nfe: number }
  | {
    id: number; kind: 'images'; width: number; height: number; rgba: Uint8ClampedArray[]; backend: string; sampler: string;
    steps: number; nfe: number; loadMs: number; sampleMs: number; truncated: string;
  }
  | { id: number; kind: 'error'; message: string };
