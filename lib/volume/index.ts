// The voxel toolkit: grid shapes, binary morphology and robust statistics.
export * from './shape.js';
export * from './morphology.js';
export * from './statistics.js';
