/**
 * Restoration and inverse problems on networks: degradations and measurement operators, 3-D
 * reconstruction with a 2-D diffusion prior (DiffusionMBIR), optimal boundary conditions for
 * conditional restoration ODEs, Resfusion, RDDM, DRDM (deformation recovery) and Diffusion with
 * Forward Models. `diffuse/restoration`, or `restoration` from `diffuse`.
 * @module
 */
export * from './tomography.js';
export * from './volume.js';
export * from './degrade.js';
export * from './boundary.js';
export * from './resfusion.js';
export * from './rddm.js';
export * from './deformation.js';
export * from './recovery-onnx.js';
export * from './forward-models.js';
export * from './canvas.js';
export * from './pixelman.js';
export * from './pixelman-onnx.js';
export * from './editing.js';
