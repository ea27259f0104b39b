// Bounds on what a JSON body may be before it is parsed: the nesting depth (a 100,000-deep list
// parses, then overflows the stack of whatever walks it) and the numbers the rating tool accepts.
import { RatingError } from './errors.js';

/** Deepest nesting of objects and lists a rating-tool body may have (an import row is 3 deep). */
export const MAX_JSON_DEPTH = 32;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Tracks the nesting depth of JSON text fed in pieces (bytes or text), refusing it as soon as it
 * goes deeper than `max`, so a deep body is refused while it arrives. Only ASCII bytes matter,
 * and UTF-8 never uses them inside a multi-byte character, so pieces may split characters.
 */
export class JsonDepthGuard {
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly max = MAX_JSON_DEPTH) {}

  feed(piece: Uint8Array | string): void {
    const n = piece.length;
    const at = typeof piece === 'string' ? (i: number) => piece.charCodeAt(i) : (i: number) => piece[i];
    for (let i = 0; i < n; i++) {
      const c = at(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
      } else if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (++this.depth > this.max) throw new RatingError('invalid_input', `the JSON body is nested deeper than ${this.max} levels`);
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) this.depth = Math.max(0, this.depth - 1);
    }
  }
}

/** Refuse JSON text nested deeper than `max` (before JSON.parse and anything that walks the result). */
export function checkJsonDepth(text: string, max = MAX_JSON_DEPTH): void {
  new JsonDepthGuard(max).feed(text);
}

/**
 * A positive integer id (`what` names it in the error): a JSON number or a string of digits,
 * at most `max` (default: the largest integer a double holds exactly, below PostgreSQL's bigint).
 */
export function checkPositiveInteger(value: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new RatingError('invalid_input', `${what} must be an integer from 1 to ${max}, got ${shownValue(value)}`);
  }
  return n;
}

/** A short description of a value for an error message (never walks nested values). */
export function shownValue(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  return String(value);
}

/** A rating version: a PostgreSQL integer. */
export const MAX_VERSION = 2 ** 31 - 1;
