import { log } from '../core/math.js';

/** EDM preconditioning (Karras et al. 2022, Table 1): D(x; σ) = c_skip x + c_out F(c_in x; c_noise). */
export function edmPreconditioning(sigma: number, sigmaData = 0.5) {
  const s2 = sigma * sigma;
  const d2 = sigmaData * sigmaData;
  return {
    cSkip: d2 / (s2 + d2),
    cOut: (sigma * sigmaData) / Math.sqrt(s2 + d2),
    cIn: 1 / Math.sqrt(s2 + d2),
    cNoise: 0.25 * log(sigma),
  };
}
