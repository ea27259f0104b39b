// Local OpenNeuro-compatible server for tests, benchmarks and demos.
export { startFakeOpenNeuro, defaultSkeletonsDir, type FakeOpenNeuro, type FakeOpenNeuroOptions, type FakeOpenNeuroStats } from './server.js';
export { parseFaultSpec, FaultInjector, type FaultSpec, type FileFault } from './faults.js';
export { synthesizeNifti, imageSpecFor, type ImageSpec, type SynthImage } from './synth.js';
export { loadSkeletonCatalog, readSkeleton, readSkeletonMeta, type SkeletonMeta, type SkeletonRow } from './skeletons.js';
