import type { Process } from './types.js';
import { VpDiscrete, type VpDiscreteConfig } from './vp-discrete.js';
import { vpContinuous, type VpContinuousConfig } from './vp.js';
import { Edm, Ve, type EdmConfig, type VeConfig } from './ve.js';
import { Flow, type FlowConfig } from './flow.js';
import { UsageError } from '../core/errors.js';

export type { Process } from './types.js';
export { sdeCoefficients } from './types.js';
export { VpDiscrete, VpLinear, VpCosine, Edm, Ve, Flow };
import { VpLinear, VpCosine } from './vp.js';

/** A process by name and its parameters, as cards, configs and the CLI give it (see createProcess). */
export type ProcessConfig =
  | ({ name: 'vp-discrete' } & VpDiscreteConfig)
  | ({ name: 'vp' } & VpContinuousConfig)
  | ({ name: 'edm' } & EdmConfig)
  | ({ name: 've' } & VeConfig)
  | ({ name: 'flow' } & FlowConfig);

/** A process name and a one-line description, for `diffuse list`. */
export interface ProcessEntry {
  name: ProcessConfig['name'];
  description: string;
}

/** Every process Diffuse implements. */
export const processes: readonly ProcessEntry[] = [
  { name: 'vp-discrete', description: 'DDPM with N training steps (diffusers betas: linear, scaled_linear, squaredcos_cap_v2)' },
  { name: 'vp', description: 'continuous VP SDE, linear β(t) (β0=0.1, β1=20) or cosine' },
  { name: 'edm', description: 'EDM / k-diffusion: x = x0 + σε with t = σ' },
  { name: 've', description: 'VE SDE (SMLD): σ(t) = σmin (σmax/σmin)^t' },
  { name: 'flow', description: 'rectified flow / flow matching: x = (1−t) x0 + t ε' },
];

/** Build a process from plain config data (validated here, once). */
export function createProcess(config: ProcessConfig): Process {
  switch (config.name) {
    case 'vp-discrete':
      return new VpDiscrete(config);
    case 'vp':
      return vpContinuous(config);
    case 'edm':
      return new Edm(config);
    case 've':
      return new Ve(config);
    case 'flow':
      return new Flow(config);
    default:
      throw new UsageError(
        `unknown process "${String((config as { name: unknown }).name)}"; accepted: ${processes.map((p) => p.name).join(', ')}`,
      );
  }
}
