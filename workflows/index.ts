// Workflow entry for the worker bundle.
export { crawl } from './crawl.js';
export { datasetPipeline } from './dataset-pipeline.js';
export { scanPipeline } from './scan-pipeline.js';
export { qualityRating } from './quality-rating.js';
