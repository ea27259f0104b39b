// Where a dataset's text files come from: a BIDS folder, a skeleton .tar.gz, or an in-memory map.

import { createReadStream, promises as fsp } from 'node:fs';
import { InputFileError, MAX_TEXT_BYTES, readInputTextSync, type ReadScope } from '../input-files.js';
import path from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import type { DatasetTextFiles } from './types.js';

/** Text files larger than this (lib/input-files' cap) are not read, only listed. The skeleton's own listing is exempt. */
export { MAX_TEXT_BYTES };
/** The skeleton listing of every file of the dataset (path, size, key). */
export const LISTING_FILE = 'files.tsv';
/** Skeleton files that describe the snapshot, not the dataset. */
const SKELETON_ONLY = new Set([LISTING_FILE, 'snapshot.txt']);

export class MetadataSourceError extends Error {
  constructor(
    readonly code: 'source_not_found' | 'source_unsupported' | 'source_unreadable',
    message: string,
  ) {
    super(message);
    this.name = 'MetadataSourceError';
  }
}

/** Build a DatasetTextFiles from a map of path → text (tests, activities). `paths` defaults to the map's keys. */
export function inMemoryDatasetFiles(datasetId: string, texts: Record<string, string>, paths?: string[]): DatasetTextFiles {
  const all = [...new Set([...(paths ?? []), ...Object.keys(texts)])].sort();
  return {
    datasetId,
    paths: () => all,
    readText: (p) => (Object.prototype.hasOwnProperty.call(texts, p) ? texts[p] : undefined),
  };
}

/** Paths listed in a skeleton's files.tsv (first column `path`). */
export function pathsFromListing(listing: string): string[] {
  const lines = listing.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = (lines[0] ?? '').split('\t');
  const col = header.indexOf('path');
  if (col < 0) return [];
  const out: string[] = [];
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const p = line.split('\t')[col];
    if (p) out.push(p.replace(/^\.\//, ''));
  }
  return out;
}

/** Load a dataset from a folder (BIDS or extracted skeleton) or a skeleton `.tar.gz`. Links may point into `allowedRoots` too. */
export async function loadDatasetTextFiles(target: string, opts: { allowedRoots?: string[] } = {}): Promise<DatasetTextFiles> {
  let stat;
  try {
    stat = await fsp.stat(target);
  } catch {
    throw new MetadataSourceError('source_not_found', `no such file or folder: ${target}`);
  }
  if (stat.isDirectory()) return loadFolder(target, opts.allowedRoots ?? []);
  if (/\.(tar\.gz|tgz|tar)$/i.test(target)) return loadTar(target);
  throw new MetadataSourceError('source_unsupported', `not a folder or .tar.gz: ${target}`);
}

async function loadFolder(root: string, allowedRoots: string[]): Promise<DatasetTextFiles> {
  const datasetId = path.basename(path.resolve(root));
  const scope: ReadScope = { root, allowedRoots };
  const refusals: RefusedText[] = [];
  const cache = new Map<string, string | undefined>();
  const read = (p: string): string | undefined => {
    if (!cache.has(p)) cache.set(p, readRecorded(path.join(root, ...p.split('/')), p, scope, refusals));
    return cache.get(p);
  };
  const walked = await walk(root);
  let paths = walked;
  if (walked.includes(LISTING_FILE)) {
    const listing = readRecorded(path.join(root, LISTING_FILE), LISTING_FILE, scope, refusals, Infinity);
    const listed = listing === undefined ? [] : pathsFromListing(listing);
    if (listed.length > 0) paths = [...new Set([...listed, ...walked.filter((p) => !SKELETON_ONLY.has(p))])];
  }
  paths.sort();
  const present = new Set(walked);
  return {
    datasetId,
    paths: () => paths,
    readText: (p) => (present.has(p) ? read(p) : undefined),
    refused: () => refusals,
  };
}

/** A text file the folder reader would not read, and why. */
export interface RefusedText {
  file: string;
  reason: 'outside_dataset' | 'not_regular_file' | 'too_large';
  message: string;
}

/** A text file of the dataset, or undefined with the refusal recorded (a broken link is simply absent). */
function readRecorded(file: string, rel: string, scope: ReadScope, refusals: RefusedText[], maxBytes = MAX_TEXT_BYTES): string | undefined {
  try {
    return readInputTextSync(file, { scope, maxBytes });
  } catch (err) {
    if (!(err instanceof InputFileError)) return undefined;
    if (err.reason === 'outside_dataset' || err.reason === 'not_regular_file' || err.reason === 'too_large') {
      refusals.push({ file: rel, reason: err.reason, message: `${rel}: ${err.message}; not read` });
    }
    return undefined;
  }
}

const SKIPPED_DIRS = new Set(['.git', '.datalad', 'node_modules']);

async function walk(root: string): Promise<string[]> {
  const out: string[] = [];
  async function visit(dir: string, rel: string): Promise<void> {
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name)) await visit(path.join(dir, e.name), childRel);
      } else if (!e.isSymbolicLink() && !e.isFile()) continue; // pipes, sockets, devices: never read
      else out.push(childRel); // files and symlinks (git-annex keeps images as links)
    }
  }
  await visit(root, '');
  return out;
}

/** Read a skeleton tar(.gz) in memory: `<dsid>/...` entries; text entries over 1 MB are skipped (listing exempt). */
async function loadTar(file: string): Promise<DatasetTextFiles> {
  const texts = new Map<string, string>();
  const entryPaths: string[] = [];
  let prefix: string | undefined;
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      onReadEntry: (entry: ReadEntry) => {
        const full = entry.path.replace(/^\.\//, '');
        const slash = full.indexOf('/');
        if (prefix === undefined && slash > 0) prefix = full.slice(0, slash);
        const rel = slash > 0 ? full.slice(slash + 1) : full;
        if (entry.type !== 'File' || !rel) {
          entry.resume();
          return;
        }
        entryPaths.push(rel);
        if (entry.size > MAX_TEXT_BYTES && rel !== LISTING_FILE) {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => texts.set(rel, Buffer.concat(chunks).toString('utf8')));
      },
    });
    parser.on('error', reject);
    parser.on('end', () => resolve());
    const stream = createReadStream(file);
    stream.on('error', (err) => reject(new MetadataSourceError('source_unreadable', `cannot read ${file}: ${err.message}`)));
    stream.pipe(parser);
  }).catch((err: unknown) => {
    if (err instanceof MetadataSourceError) throw err;
    throw new MetadataSourceError('source_unreadable', `cannot read tar ${file}: ${(err as Error).message}`);
  });
  const datasetId = prefix ?? path.basename(file).replace(/\.(tar\.gz|tgz|tar)$/i, '');
  const listing = texts.get(LISTING_FILE);
  let paths = entryPaths;
  if (listing !== undefined) {
    const listed = pathsFromListing(listing);
    if (listed.length > 0) paths = [...new Set([...listed, ...entryPaths.filter((p) => !SKELETON_ONLY.has(p))])];
    texts.delete(LISTING_FILE);
  }
  paths.sort();
  return { datasetId, paths: () => paths, readText: (p) => texts.get(p) };
}
