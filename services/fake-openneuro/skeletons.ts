// Reading the real OpenNeuro dataset skeletons (<ds>.tar.gz: metadata text files,
// files.tsv, snapshot.txt). Only a small catalog record stays in memory per dataset;
// the full skeleton is re-read on demand (see FakeDataset).
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const gunzip = promisify(zlib.gunzip);

export interface SkeletonRow {
  path: string;
  /** Size of the real file (not what the fake serves). */
  realSize: number;
  /** Real git-annex key; '' for files kept in git. */
  realKey: string;
}

export interface Skeleton {
  rows: SkeletonRow[];
  /** Metadata text files present in the skeleton, by dataset-relative path (views into one buffer). */
  texts: Map<string, Buffer>;
  /** Bytes held (for the cache budget). */
  bytes: number;
}

export interface SkeletonMeta {
  /** Dataset id of the skeleton (ds000001). */
  id: string;
  tarPath: string;
  commit: string;
  date: string;
  tags: string[];
  description: Record<string, unknown> | null;
  /** Modalities guessed from datatype folders (MRI, PET, EEG, ...). */
  modalities: string[];
  subjects: string[];
  fileCount: number;
}

/** Walk the entries of an uncompressed tar buffer (ustar, pax `path`, GNU long names). */
export function forEachTarEntry(buf: Buffer, onEntry: (name: string, data: Buffer) => void): void {
  let offset = 0;
  let longName: string | null = null;
  while (offset + 512 <= buf.length) {
    const header = buf.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const size = parseOctal(header.subarray(124, 136));
    const type = String.fromCharCode(header[156] || 48);
    const dataStart = offset + 512;
    const data = buf.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      longName = parsePaxPath(data) ?? longName;
      continue;
    }
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    if (type === 'g') continue;
    let name = cString(header.subarray(0, 100));
    const magic = header.subarray(257, 262).toString('latin1');
    if (magic === 'ustar') {
      const prefix = cString(header.subarray(345, 500));
      if (prefix) name = `${prefix}/${name}`;
    }
    if (longName) {
      name = longName;
      longName = null;
    }
    if (type === '0' || type === '\0' || type === '7') onEntry(name, data);
  }
}

function parseOctal(field: Buffer): number {
  const text = field.toString('latin1').replace(/\0.*$/, '').trim();
  return text ? parseInt(text, 8) : 0;
}

function cString(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? field.length : end).toString('utf8');
}

function parsePaxPath(data: Buffer): string | null {
  const text = data.toString('utf8');
  const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(text);
  return m ? m[1] : null;
}

/** Strip the `<ds>/` folder every skeleton entry sits in. */
function datasetRelative(name: string): string {
  const i = name.indexOf('/');
  return i < 0 ? name : name.slice(i + 1);
}

export function parseFilesTsv(text: string): SkeletonRow[] {
  const rows: SkeletonRow[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (!line) continue;
    const t1 = line.indexOf('\t');
    const t2 = line.indexOf('\t', t1 + 1);
    if (t1 < 0 || t2 < 0) continue;
    rows.push({ path: line.slice(0, t1), realSize: Number(line.slice(t1 + 1, t2)), realKey: line.slice(t2 + 1).trim() });
  }
  return rows;
}

function parseSnapshotTxt(text: string): { commit: string; date: string; tags: string[] } {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = line.indexOf('\t');
    if (t > 0) fields.set(line.slice(0, t), line.slice(t + 1).trim());
  }
  return { commit: fields.get('commit') ?? '', date: fields.get('date') ?? '', tags: (fields.get('tags') ?? '').split(/\s+/).filter(Boolean) };
}

const MODALITY_BY_DATATYPE: Record<string, string> = {
  anat: 'MRI', dwi: 'MRI', func: 'MRI', fmap: 'MRI', perf: 'MRI',
  pet: 'PET', eeg: 'EEG', meg: 'MEG', ieeg: 'iEEG', beh: 'Behavioral', micr: 'Microscopy', nirs: 'NIRS',
};

/** Modalities and subjects from the file paths (outside derivatives/sourcedata). */
function summarizeRows(rows: SkeletonRow[]): { modalities: string[]; subjects: string[] } {
  const modalities = new Set<string>();
  const subjects = new Set<string>();
  for (const { path: p } of rows) {
    if (p.startsWith('derivatives/') || p.startsWith('sourcedata/')) continue;
    const segs = p.split('/');
    if (segs[0].startsWith('sub-')) subjects.add(segs[0]);
    if (segs.length >= 2) {
      const m = MODALITY_BY_DATATYPE[segs[segs.length - 2]];
      if (m) modalities.add(m);
    }
  }
  const order = ['MRI', 'PET', 'MEG', 'EEG', 'iEEG', 'NIRS', 'Microscopy', 'Behavioral'];
  return { modalities: order.filter((m) => modalities.has(m)), subjects: [...subjects].sort() };
}

/** Read one skeleton completely: every row of files.tsv and the text files it ships. */
export async function readSkeleton(tarPath: string): Promise<Skeleton> {
  const tar = await gunzip(await fs.readFile(tarPath));
  const texts = new Map<string, Buffer>();
  let rows: SkeletonRow[] = [];
  forEachTarEntry(tar, (name, data) => {
    const rel = datasetRelative(name);
    if (rel === 'files.tsv') rows = parseFilesTsv(data.toString('utf8'));
    else if (rel !== 'snapshot.txt') texts.set(rel, data);
  });
  return { rows, texts, bytes: tar.length };
}

/** The small per-dataset record kept for the catalog. */
export async function readSkeletonMeta(tarPath: string): Promise<SkeletonMeta> {
  const tar = await gunzip(await fs.readFile(tarPath));
  let description: Record<string, unknown> | null = null;
  let snapshot = { commit: '', date: '', tags: [] as string[] };
  let rows: SkeletonRow[] = [];
  let id = path.basename(tarPath).replace(/\.tar\.gz$/, '');
  forEachTarEntry(tar, (name, data) => {
    const rel = datasetRelative(name);
    if (rel === 'dataset_description.json') description = parseJsonObject(data);
    else if (rel === 'snapshot.txt') snapshot = parseSnapshotTxt(data.toString('utf8'));
    else if (rel === 'files.tsv') rows = parseFilesTsv(data.toString('utf8'));
    if (!name.includes('/')) return;
    id = name.slice(0, name.indexOf('/'));
  });
  const { modalities, subjects } = summarizeRows(rows);
  return { id, tarPath, ...snapshot, description, modalities, subjects, fileCount: rows.length };
}

function parseJsonObject(data: Buffer): Record<string, unknown> | null {
  try {
    const v = JSON.parse(data.toString('utf8').replace(/^\uFEFF/, ''));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null; // real datasets do ship broken JSON; serve it verbatim, describe it as unnamed
  }
}

/** Every skeleton in a folder (optionally only some ids), read a few at a time. */
export async function loadSkeletonCatalog(dir: string, only?: string[]): Promise<SkeletonMeta[]> {
  const names = (await fs.readdir(dir)).filter((n) => n.endsWith('.tar.gz')).sort();
  const wanted = only ? names.filter((n) => only.includes(n.replace(/\.tar\.gz$/, ''))) : names;
  if (only) {
    const missing = only.filter((id) => !names.includes(`${id}.tar.gz`));
    if (missing.length) throw new Error(`no skeleton for ${missing.join(', ')} in ${dir}`);
  }
  const out: SkeletonMeta[] = new Array(wanted.length);
  let next = 0;
  const worker = async () => {
    while (next < wanted.length) {
      const i = next++;
      out[i] = await readSkeletonMeta(path.join(dir, wanted[i]));
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return out;
}
