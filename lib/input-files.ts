// Reading files from a user's dataset, which may be hostile: only regular files whose real path lies
// inside the dataset's real root (or a root the user allowed by name), never more than a cap, and
// JSON parsed only when its nesting is bounded. Each refusal is an InputFileError with a reason.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ReasonedError } from './errors.js';

export type InputFileReason = 'missing' | 'outside_dataset' | 'not_regular_file' | 'too_large' | 'too_deep' | 'invalid_json';

export class InputFileError extends ReasonedError<InputFileReason> {
  declare readonly details: Record<string, unknown>;
  constructor(reason: InputFileReason, message: string, details: Record<string, unknown> = {}) {
    super(reason, message, details);
  }
}

/** Where a dataset's files may really live: its root, and roots the user allowed by name (e.g. a DataLad annex elsewhere). */
export interface ReadScope {
  root: string;
  allowedRoots?: string[];
}

/** Default caps: sidecars and tables are small; anything bigger is not metadata. */
export const MAX_TEXT_BYTES = 1 << 20;
export const MAX_JSON_DEPTH = 64;

function inside(real: string, root: string): boolean {
  return real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

function realRoot(root: string): string {
  try {
    return fs.realpathSync(root);
  } catch {
    return path.resolve(root);
  }
}

function outsideScope(file: string, real: string, roots: string[]): InputFileError {
  return new InputFileError('outside_dataset', `${file} resolves to ${real}, outside the dataset's folder${roots.length > 1 ? ' and the allowed roots' : ''}`, { path: file, realPath: real });
}

/**
 * The real path of `file`, when it lies inside the scope; otherwise an `outside_dataset` refusal
 * (a symlink out of the dataset), or `missing`.
 */
export async function resolveInScope(file: string, scope: ReadScope): Promise<string> {
  let real: string;
  try {
    real = await fsp.realpath(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputFileError('missing', `${file} does not exist (or is a link to nothing)`, { path: file });
    if (code === 'ELOOP') throw new InputFileError('not_regular_file', `${file} is a loop of symbolic links`, { path: file });
    throw err;
  }
  const roots = [scope.root, ...(scope.allowedRoots ?? [])].map(realRoot);
  if (!roots.some((r) => inside(real, r))) throw outsideScope(file, real, roots);
  return real;
}

/** Is the file a regular file? Checked on the path without opening it: opening a FIFO blocks. */
export async function regularFileSize(file: string): Promise<number> {
  let st: fs.Stats;
  try {
    st = await fsp.stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputFileError('missing', `${file} does not exist`, { path: file });
    throw err;
  }
  if (!st.isFile()) throw new InputFileError('not_regular_file', `${file} is not a regular file (${kindOf(st)})`, { path: file, kind: kindOf(st) });
  return st.size;
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a file';
}

/**
 * The bytes of a regular file inside the scope, at most `maxBytes`. Opened non-blocking and checked
 * again on the open handle, so a file swapped for a pipe or a device in between is still refused.
 */
export async function readInputFile(file: string, opts: { scope?: ReadScope; maxBytes?: number } = {}): Promise<Buffer> {
  const maxBytes = opts.maxBytes ?? MAX_TEXT_BYTES;
  const real = opts.scope ? await resolveInScope(file, opts.scope) : file;
  const size = await regularFileSize(real);
  if (size > maxBytes) throw new InputFileError('too_large', `${file} holds ${size} bytes, over the ${maxBytes}-byte limit for this kind of file`, { path: file, bytes: size, limit: maxBytes });
  const handle = await fsp.open(real, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new InputFileError('not_regular_file', `${file} is not a regular file (${kindOf(st)})`, { path: file });
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled >= buf.length) break;
    }
    if (filled > maxBytes) throw new InputFileError('too_large', `${file} is over the ${maxBytes}-byte limit for this kind of file`, { path: file, limit: maxBytes });
    return buf.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

export async function readInputText(file: string, opts: { scope?: ReadScope; maxBytes?: number } = {}): Promise<string> {
  return (await readInputFile(file, opts)).toString('utf8');
}

/** Deepest nesting of arrays and objects in JSON text (strings skipped), without parsing it. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > deepest) deepest = depth;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return deepest;
}

/** JSON.parse with a nesting bound checked first (deep input overflows the parser's stack), and a clear reason. */
export function parseInputJson(text: string, source: string, maxDepth = MAX_JSON_DEPTH): unknown {
  const depth = jsonDepth(text);
  if (depth > maxDepth) throw new InputFileError('too_deep', `${source} nests ${depth} levels deep, over the limit of ${maxDepth}`, { path: source, depth, limit: maxDepth });
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new InputFileError('invalid_json', `${source} is not valid JSON: ${(err as Error).message}`, { path: source });
  }
}

export async function readInputJson(file: string, opts: { scope?: ReadScope; maxBytes?: number; maxDepth?: number } = {}): Promise<unknown> {
  return parseInputJson(await readInputText(file, opts), file, opts.maxDepth);
}

/**
 * The same rules, synchronously (for readers behind a synchronous interface): the text of a regular
 * file inside the scope, at most `maxBytes`; `missing` for a broken link. Opened non-blocking (a named
 * pipe never blocks) and checked on the open handle.
 */
export function readInputTextSync(file: string, opts: { scope: ReadScope; maxBytes?: number }): string {
  const maxBytes = opts.maxBytes ?? MAX_TEXT_BYTES;
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    throw new InputFileError('missing', `${file} does not exist (or is a link to nothing)`, { path: file });
  }
  const roots = [opts.scope.root, ...(opts.scope.allowedRoots ?? [])].map(realRoot);
  if (!roots.some((r) => inside(real, r))) throw outsideScope(file, real, roots);
  const fd = fs.openSync(real, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new InputFileError('not_regular_file', `${file} is not a regular file (${kindOf(st)})`, { path: file, kind: kindOf(st) });
    if (st.size > maxBytes) throw new InputFileError('too_large', `${file} holds ${st.size} bytes, over the ${maxBytes}-byte limit for this kind of file`, { path: file, bytes: st.size, limit: maxBytes });
    const buf = Buffer.alloc(st.size);
    let filled = 0;
    while (filled < buf.length) {
      const n = fs.readSync(fd, buf, filled, buf.length - filled, filled);
      if (n === 0) break;
      filled += n;
    }
    return buf.subarray(0, filled).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}
