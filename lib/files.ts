// File helpers shared by every step: atomic writes, hashing, safe joins.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { isSafeRelativePath } from './bids/index.js';

/** Write bytes atomically: a temporary file in the same folder, then rename, so readers never see half a file. */
export async function writeFileAtomic(dest: string, data: Uint8Array | string): Promise<void> {
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  const tmp = tempNameFor(dest);
  try {
    await fsp.writeFile(tmp, data);
    await fsp.rename(tmp, dest);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

/** Copy a file atomically, optionally through a transform stream (e.g. gzip). */
export async function copyFileAtomic(src: string, dest: string, transform?: NodeJS.ReadWriteStream): Promise<void> {
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  const tmp = tempNameFor(dest);
  try {
    if (transform) await pipeline(fs.createReadStream(src), transform, fs.createWriteStream(tmp));
    else await fsp.copyFile(src, tmp);
    await fsp.rename(tmp, dest);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

export async function sha256File(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), h);
  return h.digest('hex');
}

export function sha256(data: string | Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** Stable hash of a JSON-able value (keys sorted), for parameter and input hashes. */
export function hashJson(value: unknown): string {
  return sha256(stableStringify(value));
}

export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`)
    .join(',')}}`;
}

/** File names stay this short, leaving room for suffixes (.png, .tmp-…) under the usual 255-byte limit. */
const MAX_NAME_BYTES = 160;

/**
 * File-name-safe form of an id or tag (scan ids hold ':' and '/'). A long id (a legal file name can
 * already be 255 bytes) keeps its start and gets a hash of the whole, so names stay unique and short.
 */
export function fileSafeName(id: string): string {
  const safe = id.replace(/[^A-Za-z0-9._-]+/g, '_');
  return safe.length <= MAX_NAME_BYTES ? safe : `${safe.slice(0, MAX_NAME_BYTES - 17)}-${sha256(id).slice(0, 16)}`;
}

/** A temporary name beside `dest` that is short whatever dest's name is. */
function tempNameFor(dest: string): string {
  const base = path.basename(dest);
  const stem = base.length <= MAX_NAME_BYTES ? base : sha256(base).slice(0, 32);
  return path.join(path.dirname(dest), `${stem}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
}

export class UnsafePathError extends Error {
  readonly reason = 'unsafe_path';
}

/** Join a relative path (possibly from a remote listing) under root, refusing anything that would escape it. */
export function safeJoin(root: string, rel: string): string {
  if (!isSafeRelativePath(rel)) throw new UnsafePathError(`refused unsafe path ${JSON.stringify(rel)}`);
  const full = path.resolve(root, rel);
  if (!full.startsWith(path.resolve(root) + path.sep)) throw new UnsafePathError(`path ${JSON.stringify(rel)} leaves ${root}`);
  return full;
}

export async function fileExists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}
