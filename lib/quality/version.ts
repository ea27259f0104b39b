// The image-quality metrics' version: part of the step key and stored with every metric row.
export const IQM_VERSION = 'openmind-iqm/1';
