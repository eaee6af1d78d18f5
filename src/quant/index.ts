/**
 * Post-training quantisation (PTQ4DM, Shang et al. 2023): calibration times and inputs drawn from
 * the model's own trajectory, activation statistics, and the output-bias correction. The ONNX
 * graphs themselves are rewritten by training/quantize.py; `diffuse calibrate` drives this.
 * @module
 */
export * from './ndtc.js';
export * from './stats.js';
export * from './bias.js';
export * from './calibrate.js';
