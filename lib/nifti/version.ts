// The validation's version (NIfTI checks and the DWI gradient table): part of the validate step key.
export const VALIDATION_VERSION = '1';
