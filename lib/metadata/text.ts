// Tolerant readers for the text files of a dataset: TSV tables and JSON objects.
// They never throw; problems become MetadataIssue records and whatever is usable is returned.

import type { MetadataIssue } from './types.js';
import { jsonDepth, MAX_JSON_DEPTH } from '../input-files.js';

const BOM = '\uFEFF';

/** Strip a UTF-8 byte-order mark. */
export function stripBom(text: string): string {
  return text.startsWith(BOM) ? text.slice(1) : text;
}

/**
 * Does decoded text look like binary junk rather than a text file?
 * NUL characters, or many replacement/control characters, give it away.
 */
export function looksBinary(text: string): boolean {
  if (text.includes('\u0000')) return true;
  const sample = text.length > 65536 ? text.slice(0, 65536) : text;
  let odd = 0;
  for (let i = 0; i < sample.length; i++) {
    const c = sample.charCodeAt(i);
    if (c === 0xfffd || (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12)) odd++;
  }
  return sample.length > 0 && odd / sample.length > 0.02;
}

export interface TsvTable {
  file: string;
  header: string[];
  /** Rows padded/truncated to the header width. */
  rows: string[][];
  /** 1-based line number in the file for each row. */
  lines: number[];
  hadBom: boolean;
  hadCrlf: boolean;
}

/** Parse a TSV file; returns undefined (with an issue) when it is unreadable. */
export function parseTsv(file: string, text: string | undefined, issues: MetadataIssue[]): TsvTable | undefined {
  if (text === undefined) return undefined;
  if (looksBinary(text)) {
    issues.push({ file, reason: 'binary_content', message: 'file is not text (binary content); ignored', severity: 'error' });
    return undefined;
  }
  const hadBom = text.startsWith(BOM);
  const hadCrlf = text.includes('\r\n');
  const physical = stripBom(text).split(/\r\n|\n|\r/);
  const numbered: { line: number; text: string }[] = [];
  physical.forEach((t, i) => {
    if (t.trim() !== '') numbered.push({ line: i + 1, text: t });
  });
  if (numbered.length === 0) {
    issues.push({ file, reason: 'empty_file', message: 'file has no header line', severity: 'error' });
    return undefined;
  }
  const header = numbered[0].text.split('\t');
  const rows: string[][] = [];
  const lines: number[] = [];
  const ragged: number[] = [];
  for (const { line, text: t } of numbered.slice(1)) {
    let cells = t.split('\t');
    if (cells.length !== header.length) {
      ragged.push(line);
      cells = cells.length > header.length ? cells.slice(0, header.length) : [...cells, ...new Array(header.length - cells.length).fill('')];
    }
    rows.push(cells);
    lines.push(line);
  }
  if (ragged.length > 0) {
    const shown = ragged.slice(0, 10).join(', ') + (ragged.length > 10 ? ', ...' : '');
    issues.push({
      file,
      reason: 'ragged_rows',
      message: `${ragged.length} row(s) do not have ${header.length} cells (lines ${shown}); padded with empty cells or truncated`,
      severity: 'warning',
    });
  }
  return { file, header, rows, lines, hadBom, hadCrlf };
}

export type JsonObject = Record<string, unknown>;

/**
 * Parse a JSON object. Invalid JSON is retried once after two common repairs (bare NaN/Infinity, and lone
 * backslashes from Windows paths); a repaired file is kept with a warning, an unrepairable one becomes an error.
 */
export function parseJsonObject(file: string, text: string | undefined, issues: MetadataIssue[]): JsonObject | undefined {
  if (text === undefined) return undefined;
  if (looksBinary(text)) {
    issues.push({ file, reason: 'binary_content', message: 'file is not text (binary content); ignored', severity: 'error' });
    return undefined;
  }
  const body = stripBom(text);
  const depth = jsonDepth(body);
  if (depth > MAX_JSON_DEPTH) {
    issues.push({ file, reason: 'too_deep', message: `JSON nests ${depth} levels deep, over the limit of ${MAX_JSON_DEPTH}; ignored`, severity: 'error' });
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    const repaired = tryRepairJson(body);
    if (repaired === undefined) {
      issues.push({ file, reason: 'invalid_json', message: `invalid JSON: ${(err as Error).message}`, severity: 'error' });
      return undefined;
    }
    issues.push({ file, reason: 'json_repaired', message: `invalid JSON repaired (${(err as Error).message})`, severity: 'warning' });
    parsed = repaired;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    issues.push({ file, reason: 'json_not_object', message: 'JSON file does not hold an object', severity: 'error' });
    return undefined;
  }
  return parsed as JsonObject;
}

function tryRepairJson(body: string): unknown {
  const repaired = body
    .replace(/\\(?!["\\/bfnrtu])/g, '\\\\') // lone backslash (e.g. "C:\Data") → escaped
    .replace(/(:\s*|\[\s*|,\s*)-?(NaN|Infinity)(?=\s*[,\]}])/g, '$1null');
  if (repaired === body) return undefined;
  try {
    return JSON.parse(repaired);
  } catch {
    return undefined;
  }
}
