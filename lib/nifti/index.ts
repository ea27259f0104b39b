// Public entry of the NIfTI library: reading, writing, validating and
// geometry helpers for NIfTI-1/NIfTI-2 single-file images (.nii, .nii.gz).
export {
  NiftiValidationError,
  datatypeByCode,
  datatypeByName,
  datatypeName,
  type DatatypeInfo,
  type EncodeOptions,
  type GeometrySpec,
  type NiftiDatatypeName,
  type NiftiHeader,
  type NiftiImage,
  type NiftiInvalidReason,
  type NiftiSummary,
} from './types.js';
export { isGzipped, parseHeaderBytes, scalingOf } from './header.js';
export {
  affineOf,
  affineToQform,
  baseAffine,
  orientationCodes,
  qformAffine,
  sformAffine,
  voxelSizes,
} from './affine.js';
export { encodeNifti1, writeNifti, NIFTI1_VOX_OFFSET } from './encode.js';
export { parseNifti, readNifti, readNiftiHeader, DEFAULT_READ_MAX_VOXELS } from './read.js';
export { validateNifti, DEFAULT_VALIDATE_MAX_VOXELS, type ValidateOptions } from './validate.js';
