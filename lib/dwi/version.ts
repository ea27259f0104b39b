// The DWI derivation's version: part of the step key and of lib/dwi's own per-stage resume records.
export const DWI_PIPELINE_VERSION = 2;
