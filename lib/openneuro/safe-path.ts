// Remote listings name the files we write: refuse any name that could escape the
// destination folder or that no BIDS dataset would use.
import path from 'node:path';
import { OpenNeuroError } from './errors.js';

const MAX_PATH_LENGTH = 1024;
/** Characters BIDS names and common dataset files use; same set as lib/bids isSafeRelativePath. */
const ALLOWED_CHARS = /^[A-Za-z0-9._\-+=/@,]+$/;

/** Why a relative path is unsafe, or null when it is safe. */
export function unsafePathReason(p: string): string | null {
  if (typeof p !== 'string' || p.length === 0) return 'empty path';
  if (p.length > MAX_PATH_LENGTH) return 'path too long';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(p)) return 'control character';
  if (p.includes('\\')) return 'backslash';
  if (p.startsWith('/')) return 'absolute path';
  if (/^[A-Za-z]:/.test(p)) return 'drive letter';
  if (!ALLOWED_CHARS.test(p)) return 'odd character';
  for (const segment of p.split('/')) {
    if (segment === '') return 'empty segment';
    if (segment === '.' || segment === '..') return `"${segment}" segment`;
  }
  return null;
}

export function isSafeRelativePath(p: string): boolean {
  return unsafePathReason(p) === null;
}

export function assertSafeRelativePath(p: string): void {
  const why = unsafePathReason(p);
  if (why) throw new OpenNeuroError('unsafe_path', `refused unsafe path ${JSON.stringify(p)}: ${why}`, { path: p, why });
}

/** Join a remote relative path under root; throws OpenNeuroError('unsafe_path') if it could escape. */
export function safeJoin(root: string, p: string): string {
  assertSafeRelativePath(p);
  const base = path.resolve(root);
  const full = path.resolve(base, p);
  if (!full.startsWith(base + path.sep)) {
    throw new OpenNeuroError('unsafe_path', `path ${JSON.stringify(p)} leaves ${root}`, { path: p, why: 'escapes root' });
  }
  return full;
}
