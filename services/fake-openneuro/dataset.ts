// The fake's view of one dataset: its snapshots and, per snapshot, the files it serves.
// Text files come verbatim from the skeleton, images are synthesized (synth.ts), anything
// else is a small deterministic placeholder. Sizes and annex keys describe the served bytes.
import crypto from 'node:crypto';
import { makeAnnexKey } from '../../lib/openneuro/annex-key.js';
import { parseBvals, seedOf, synthesizeNifti } from './synth.js';
import { readSkeleton, type Skeleton, type SkeletonMeta } from './skeletons.js';

export interface FakeSnapshot {
  tag: string;
  created: string;
  hexsha: string;
  /** Files whose content differs from the skeleton's original, with the salt that changes them. */
  salts: Map<string, string>;
}

export type ContentKind = 'text' | 'nifti' | 'placeholder';

export interface ServedFile {
  path: string;
  /** True byte length served. */
  size: number;
  /** Size shown in the listing (differs under the badsize fault). */
  listedSize: number;
  /** File id: annex key (MD5E/SHA256E) for annexed files, git blob sha1 otherwise. */
  id: string;
  annexed: boolean;
  md5: string;
  kind: ContentKind;
  salt: string;
}

export interface DirectoryNode {
  id: string;
  path: string;
  files: ServedFile[];
  dirs: DirectoryNode[];
}

export interface SnapshotListing {
  files: ServedFile[];
  byPath: Map<string, ServedFile>;
  byId: Map<string, ServedFile>;
  root: DirectoryNode;
  dirsById: Map<string, DirectoryNode>;
  totalSize: number;
}

const NIFTI = /\.nii(\.gz)?$/;

/** Loads skeletons on demand and keeps a bounded number of them (and their listings) in memory. */
export class SkeletonCache {
  private readonly entries = new Map<string, { skeleton: Promise<Skeleton>; bytes: number }>();
  private held = 0;
  loads = 0;

  constructor(private readonly maxBytes: number) {}

  get(tarPath: string, onEvict: (tarPath: string) => void): Promise<Skeleton> {
    const hit = this.entries.get(tarPath);
    if (hit) {
      this.entries.delete(tarPath); // re-insert: most recently used last
      this.entries.set(tarPath, hit);
      return hit.skeleton;
    }
    this.loads++;
    const entry = { skeleton: readSkeleton(tarPath), bytes: 0 };
    this.entries.set(tarPath, entry);
    entry.skeleton.then(
      (s) => {
        entry.bytes = s.bytes;
        this.held += s.bytes;
        this.evict(tarPath, onEvict);
      },
      () => this.entries.delete(tarPath),
    );
    return entry.skeleton;
  }

  private evict(keep: string, onEvict: (tarPath: string) => void): void {
    for (const [tarPath, entry] of this.entries) {
      if (this.held <= this.maxBytes) break;
      if (tarPath === keep || entry.bytes === 0) continue;
      this.entries.delete(tarPath);
      this.held -= entry.bytes;
      onEvict(tarPath);
    }
  }
}

export interface FakeDatasetHooks {
  hasBadSize(datasetId: string, filePath: string): boolean;
}

export class FakeDataset {
  readonly id: string;
  readonly meta: SkeletonMeta;
  readonly snapshots: FakeSnapshot[];
  private readonly listings = new Map<string, Promise<SnapshotListing>>();

  constructor(
    id: string,
    meta: SkeletonMeta,
    private readonly cache: SkeletonCache,
    private readonly hooks: FakeDatasetHooks,
  ) {
    this.id = id;
    this.meta = meta;
    this.snapshots = initialSnapshots(id, meta);
  }

  get latest(): FakeSnapshot {
    return this.snapshots[this.snapshots.length - 1];
  }

  snapshot(tag: string): FakeSnapshot | undefined {
    return this.snapshots.find((s) => s.tag === tag);
  }

  /** Simulate a new snapshot: same files, except `changed` paths whose content changes. */
  addSnapshot(tag: string, changed: string[] = []): FakeSnapshot {
    if (this.snapshot(tag)) throw new Error(`${this.id} already has a snapshot ${tag}`);
    const prev = this.latest;
    const salts = new Map(prev.salts);
    for (const p of changed) salts.set(p, tag);
    const created = new Date(Math.max(Date.parse(prev.created) || 0, Date.now() - 1000) + 1000).toISOString();
    const snap: FakeSnapshot = { tag, created, hexsha: sha1Hex(`${this.id}:${tag}:commit`), salts };
    this.snapshots.push(snap);
    return snap;
  }

  listing(tag: string): Promise<SnapshotListing> {
    let p = this.listings.get(tag);
    if (!p) {
      p = this.buildListing(tag);
      this.listings.set(tag, p);
      p.catch(() => this.listings.delete(tag));
    }
    return p;
  }

  /** Forget computed listings (the skeleton cache evicted this dataset); they are rebuilt identically. */
  dropListings(): void {
    this.listings.clear();
  }

  /** The bytes served for a file of a snapshot listing. */
  async content(file: ServedFile): Promise<Buffer> {
    const skeleton = await this.skeleton();
    return contentOf(this.id, skeleton, file.path, file.kind, file.salt);
  }

  private skeleton(): Promise<Skeleton> {
    return this.cache.get(this.meta.tarPath, () => this.dropListings());
  }

  private async buildListing(tag: string): Promise<SnapshotListing> {
    const snap = this.snapshot(tag);
    if (!snap) throw new Error(`no snapshot ${this.id}:${tag}`);
    const skeleton = await this.skeleton();
    const files: ServedFile[] = [];
    let totalSize = 0;
    for (const row of skeleton.rows) {
      if (row.realKey.startsWith('SUBMODULE')) continue; // nested datasets are not files
      const salt = snap.salts.get(row.path) ?? '';
      const file = describeFile(this.id, skeleton, row.path, row.realKey, salt);
      if (this.hooks.hasBadSize(this.id, row.path)) file.listedSize = file.size + 7;
      files.push(file);
      totalSize += file.size;
    }
    return indexListing(this.id, tag, files, totalSize);
  }
}

function initialSnapshots(id: string, meta: SkeletonMeta): FakeSnapshot[] {
  // Oldest first. Latest: the highest semantic version, else the highest numeric tag
  // (OpenNeuro's early "00002" style), else the last listed (old 24-hex snapshot ids).
  const rank = (t: string) => (/^\d+\.\d+\.\d+$/.test(t) ? 2 : /^\d+$/.test(t) ? 1 : 0);
  const tags = meta.tags
    .map((tag, i) => ({ tag, i }))
    .sort((a, b) => rank(a.tag) - rank(b.tag) || (rank(a.tag) === 2 ? compareSemver(a.tag, b.tag) : rank(a.tag) === 1 ? Number(a.tag) - Number(b.tag) : a.i - b.i))
    .map((t) => t.tag);
  if (!tags.length) tags.push('1.0.0');
  const latestDate = Date.parse(meta.date) || Date.UTC(2020, 0, 1);
  const day = 86_400_000;
  return tags.map((tag, i) => ({
    tag,
    created: new Date(latestDate - (tags.length - 1 - i) * 30 * day).toISOString(),
    hexsha: i === tags.length - 1 && meta.commit ? meta.commit : sha1Hex(`${id}:${tag}:commit`),
    salts: new Map<string, string>(),
  }));
}

function compareSemver(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

function kindOf(skeleton: Skeleton, filePath: string): ContentKind {
  if (skeleton.texts.has(filePath)) return 'text';
  if (NIFTI.test(filePath)) return 'nifti';
  return 'placeholder';
}

/** b-values for a raw DWI series: its own .bval, else one inherited from a parent folder. */
function bvalsFor(skeleton: Skeleton, filePath: string): number[] | undefined {
  if (!/(^|\/)dwi\/[^/]*_dwi\.nii(\.gz)?$/.test(filePath) || /^(derivatives|sourcedata)\//.test(filePath)) return undefined;
  const own = skeleton.texts.get(filePath.replace(NIFTI, '.bval'));
  if (own) return parseBvals(own.toString('latin1'));
  const segs = filePath.split('/');
  for (let depth = segs.length - 2; depth >= 0; depth--) {
    const dir = segs.slice(0, depth).join('/');
    for (const [p, text] of skeleton.texts) {
      if (!p.endsWith('dwi.bval')) continue;
      const pdir = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
      if (pdir === dir) return parseBvals(text.toString('latin1'));
    }
  }
  return undefined;
}

/** Placeholder bytes for files the skeleton does not carry (events.tsv, .mgz, ...). */
function placeholderContent(datasetId: string, filePath: string, salt: string): Buffer {
  const tag = `fake-openneuro placeholder for ${datasetId}/${filePath}${salt ? ` (${salt})` : ''}`;
  if (filePath.endsWith('.json')) return Buffer.from(`${JSON.stringify({ FakeOpenNeuro: tag })}\n`);
  if (filePath.endsWith('.tsv')) return Buffer.from(`onset\tduration\tnote\n0\t0\t${tag}\n`);
  return Buffer.from(`${tag}\n`);
}

function contentOf(datasetId: string, skeleton: Skeleton, filePath: string, kind: ContentKind, salt: string): Buffer {
  switch (kind) {
    case 'text': {
      const text = skeleton.texts.get(filePath)!;
      return salt ? Buffer.concat([text, Buffer.from(`\n`.repeat(1 + (sha1Hex(salt).charCodeAt(0) % 3)))]) : text;
    }
    case 'nifti':
      return synthesizeNifti(datasetId, filePath, { bvals: bvalsFor(skeleton, filePath), salt }).bytes();
    case 'placeholder':
      return placeholderContent(datasetId, filePath, salt);
  }
}

function describeFile(datasetId: string, skeleton: Skeleton, filePath: string, realKey: string, salt: string): ServedFile {
  const kind = kindOf(skeleton, filePath);
  let size: number;
  let md5: string;
  let sha256: string | null = null;
  let bytes: Buffer | null = null;
  if (kind === 'nifti') {
    const img = synthesizeNifti(datasetId, filePath, { bvals: bvalsFor(skeleton, filePath), salt });
    size = img.size;
    md5 = img.md5;
    sha256 = img.sha256;
  } else {
    bytes = contentOf(datasetId, skeleton, filePath, kind, salt);
    size = bytes.length;
    md5 = crypto.createHash('md5').update(bytes).digest('hex');
  }
  // Annexed as in the real dataset (and every image): keep its key backend.
  const annexed = realKey !== '' || kind === 'nifti';
  let id: string;
  if (annexed && realKey.startsWith('SHA256')) {
    sha256 ??= crypto.createHash('sha256').update(bytes!).digest('hex');
    id = makeAnnexKey('SHA256', size, sha256, filePath);
  } else if (annexed) {
    id = makeAnnexKey('MD5', size, md5, filePath);
  } else {
    id = crypto.createHash('sha1').update(`blob ${size}\0`).update(bytes!).digest('hex'); // git blob id
  }
  return { path: filePath, size, listedSize: size, id, annexed, md5, kind, salt };
}

/** S3-style version id: 32 characters of [A-Za-z0-9._], stable per (dataset, path, content salt); computed, not stored. */
export function versionIdOf(datasetId: string, file: Pick<ServedFile, 'path' | 'salt'>): string {
  const filePath = file.path;
  const salt = file.salt;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._';
  const text = `${datasetId}/${filePath}#${salt}`;
  let out = '';
  for (let round = 0; out.length < 32; round++) {
    let h = seedOf(`${round}:${text}`);
    for (let i = 0; i < 5; i++, h >>>= 6) out += alphabet[h & 63];
  }
  return out.slice(0, 32);
}

function sha1Hex(text: string): string {
  return crypto.createHash('sha1').update(text).digest('hex');
}

function indexListing(datasetId: string, tag: string, files: ServedFile[], totalSize: number): SnapshotListing {
  const byPath = new Map<string, ServedFile>();
  const byId = new Map<string, ServedFile>();
  const dirsById = new Map<string, DirectoryNode>();
  const dirsByPath = new Map<string, DirectoryNode>();
  const makeDir = (p: string): DirectoryNode => {
    const node: DirectoryNode = { id: sha1Hex(`tree:${datasetId}:${tag}:${p}`), path: p, files: [], dirs: [] };
    dirsById.set(node.id, node);
    dirsByPath.set(p, node);
    return node;
  };
  const root = makeDir('');
  const dirFor = (p: string): DirectoryNode => {
    const hit = dirsByPath.get(p);
    if (hit) return hit;
    const parentPath = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
    const parent = dirFor(parentPath);
    const node = makeDir(p);
    parent.dirs.push(node);
    return node;
  };
  for (const f of files) {
    byPath.set(f.path, f);
    if (!byId.has(f.id)) byId.set(f.id, f);
    const dir = f.path.includes('/') ? f.path.slice(0, f.path.lastIndexOf('/')) : '';
    dirFor(dir).files.push(f);
  }
  return { files, byPath, byId, root, dirsById, totalSize };
}
