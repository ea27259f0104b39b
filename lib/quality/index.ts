// Public entry of the quality library: automatic IQMs, QC mosaics and montages, the PNG codec,
// the two-rater aggregation rule and the predicted score.
export { QualityError, type QualityErrorReason } from './errors.js';
export {
  computeIqms,
  estimateAnatomyMask,
  entropyFocusCriterion,
  foregroundBackgroundEnergyRatio,
  artifactIndexQi1,
  smoothnessFwhm,
  kmeans1d,
  gaussianMixture1d,
  tissueRegion,
  noiseFloor,
  tissueOrder,
  IQM_VERSION,
  METRIC_DIRECTION,
  type IqmExtra,
  type IqmImage,
  type IqmMasks,
  type IqmResult,
} from './iqms.js';
export { crc32, createRgbImage, decodePng, encodePng, PNG_SIGNATURE, type RgbImage } from '../png.js';
export {
  MASK_COLOURS,
  renderMontage,
  renderScanMosaic,
  resizeRgb,
  sampleForMontage,
  writeMontage,
  writePng,
  writeScanMosaic,
  type MontageOptions,
  type MosaicImage,
  type MosaicMasks,
  type MosaicOptions,
} from './mosaic.js';
export { aggregateRatings, isValidScore, DISAGREEMENT_THRESHOLD, type Aggregate, type CurrentRating } from './aggregate.js';
export { predictScanScore, predictTaskScore, PREDICT_ANCHORS, PREDICT_MODEL_VERSION, type Prediction } from './predict.js';
export { hashSeed, sampleWithoutReplacement, seededRandom, gaussianSource } from '../random.js';
export { measureImageQuality, qcAssetPaths, type MeasureImageInput } from './measure.js';
