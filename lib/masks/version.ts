// The masks code's version: part of every masks step key, so changed code is never skipped as done.
export const MASKS_VERSION = '2.2.0';
