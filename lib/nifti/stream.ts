// Streaming access to a (possibly gzipped) NIfTI file: opening with clear
// errors, a pull-style byte reader, and the voxel block loop.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { voxelDecoder } from './decode.js';
import { dataLayoutOf, isGzipped, parseHeaderBytes, NIFTI1_HEADER_SIZE, NIFTI2_HEADER_SIZE, type DataLayout } from './header.js';
import { NiftiValidationError, type NiftiHeader } from './types.js';

/** Upper bound of deflate's compression ratio (~1032:1), for early truncation checks. */
const MAX_DEFLATE_RATIO = 1100;
const READ_CHUNK_BYTES = 1 << 20;

/** Translate fs / zlib failures into NiftiValidationError with a reason. */
export function classifyError(err: unknown, filePath: string): NiftiValidationError {
  if (err instanceof NiftiValidationError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code;
  if (code === 'ENOENT') return new NiftiValidationError('missing', `file not found: ${filePath}`, { path: filePath });
  if (code === 'Z_BUF_ERROR') {
    return new NiftiValidationError('truncated', `gzip stream ends early (file cut off?): ${filePath}`, { path: filePath, cause: e.message });
  }
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new NiftiValidationError('unreadable', `corrupt gzip data in ${filePath}: ${e.message}`, { path: filePath, code });
  }
  return new NiftiValidationError('unreadable', `cannot read ${filePath}: ${e?.message ?? String(err)}`, { path: filePath, code });
}

/** Pull-style reader over an async iterator of chunks. */
export class ByteReader {
  private pending: Buffer | undefined;
  private ended = false;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  /** The next chunk (possibly a remainder of a previous one), or undefined at the end. */
  async nextChunk(maxBytes = Infinity): Promise<Buffer | undefined> {
    let chunk = this.pending;
    this.pending = undefined;
    if (!chunk) {
      if (this.ended) return undefined;
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        return undefined;
      }
      chunk = next.value;
    }
    if (chunk.length > maxBytes) {
      this.pending = chunk.subarray(maxBytes);
      chunk = chunk.subarray(0, maxBytes);
    }
    return chunk;
  }

  /** Put bytes back in front of the stream (they must be the last ones read). */
  unread(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.pending = this.pending ? Buffer.concat([bytes, this.pending]) : bytes;
  }

  /** Up to n bytes; fewer only when the source ends. */
  async read(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const chunk = await this.nextChunk(n - have);
      if (!chunk) break;
      parts.push(chunk);
      have += chunk.length;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, have);
  }

  /** Skip up to n bytes; returns how many were skipped. */
  async skip(n: number): Promise<number> {
    let skipped = 0;
    while (skipped < n) {
      const chunk = await this.nextChunk(n - skipped);
      if (!chunk) break;
      skipped += chunk.length;
    }
    return skipped;
  }

  /** Consume what is left (so a hash sees the whole file), stopping once more than `limit` bytes came; returns the count. */
  async drain(limit = Infinity): Promise<number> {
    let bytes = 0;
    for (let chunk = await this.nextChunk(); chunk; chunk = await this.nextChunk()) {
      bytes += chunk.length;
      if (bytes > limit) break;
    }
    return bytes;
  }

  /** Stop early, releasing the underlying streams. */
  async close(): Promise<void> {
    this.ended = true;
    this.pending = undefined;
    await this.source.return?.();
  }
}

export interface OpenedNifti {
  reader: ByteReader;
  gzipped: boolean;
  fileBytes: number;
  /** Hash of the raw file bytes, complete once the reader is drained. */
  hash?: Hash;
}

async function readFirstBytes(filePath: string, n: number): Promise<Buffer> {
  const handle = await fs.open(filePath, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await handle.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Open a .nii / .nii.gz (detected by content) as a stream of decompressed bytes. */
export async function openNifti(filePath: string, opts: { hash?: boolean } = {}): Promise<OpenedNifti> {
  let fileBytes: number;
  let gzipped: boolean;
  try {
    const stat = await fs.stat(filePath);
    if (!stat.isFile()) throw new NiftiValidationError('not_regular_file', `not a regular file: ${filePath}`, { path: filePath });
    fileBytes = stat.size;
    if (fileBytes === 0) throw new NiftiValidationError('empty_file', `file is empty: ${filePath}`, { path: filePath });
    gzipped = isGzipped(await readFirstBytes(filePath, 2));
  } catch (err) {
    throw classifyError(err, filePath);
  }
  const raw = createReadStream(filePath, { highWaterMark: READ_CHUNK_BYTES });
  const hash = opts.hash ? createHash('sha256') : undefined;
  if (hash) raw.on('data', (chunk) => hash.update(chunk as Buffer));
  // pipeline() propagates errors from either stage to the iterated stream.
  const decompressed = gzipped
    ? pipeline(raw, createGunzip({ chunkSize: READ_CHUNK_BYTES }), () => {})
    : raw;
  const iterator = decompressed[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const wrapped: AsyncIterator<Buffer> = {
    next: async () => {
      try {
        return await iterator.next();
      } catch (err) {
        throw classifyError(err, filePath);
      }
    },
    return: async () => {
      raw.destroy();
      decompressed.destroy();
      return { done: true, value: undefined };
    },
  };
  return { reader: new ByteReader(wrapped), gzipped, fileBytes, hash };
}

/** Read and parse the header from an opened file; leaves the reader at the header's end. */
export async function readHeaderFrom(opened: OpenedNifti, filePath: string): Promise<{ header: NiftiHeader; consumed: number }> {
  const head = await opened.reader.read(NIFTI2_HEADER_SIZE);
  if (head.length === 0) throw new NiftiValidationError('empty_file', `file has no content after decompression: ${filePath}`);
  try {
    const header = parseHeaderBytes(head);
    // A NIfTI-1 header is shorter than what was read; the rest may be voxel data.
    const consumed = header.version === 1 ? NIFTI1_HEADER_SIZE : NIFTI2_HEADER_SIZE;
    opened.reader.unread(head.subarray(consumed));
    return { header, consumed };
  } catch (err) {
    if (err instanceof NiftiValidationError && !err.details?.path) {
      throw new NiftiValidationError(err.reason, `${err.message}: ${filePath}`, { ...err.details, path: filePath });
    }
    throw err;
  }
}

/**
 * Layout of the voxel data after the size guard, plus a fail-fast check that
 * the file can possibly hold it (exact for .nii, a deflate bound for .nii.gz).
 */
export function checkedLayout(opened: OpenedNifti, header: NiftiHeader, maxVoxels: number, filePath: string): DataLayout {
  const layout = dataLayoutOf(header, maxVoxels);
  const needed = layout.dataOffset + layout.dataBytes;
  const available = opened.gzipped ? opened.fileBytes * MAX_DEFLATE_RATIO : opened.fileBytes;
  if (needed > available) {
    throw new NiftiValidationError(
      'truncated',
      `header claims ${layout.shape.join('x')} voxels (${needed} bytes) but ${filePath} ` +
        (opened.gzipped ? `(${opened.fileBytes} bytes gzipped) cannot hold that much` : `has only ${opened.fileBytes} bytes`),
      { path: filePath, neededBytes: needed, fileBytes: opened.fileBytes },
    );
  }
  return layout;
}

/** Voxels per decoded block: bounds memory whatever the image size. */
export const BLOCK_VOXELS = 1 << 20;

/**
 * Decode the voxel data in blocks of at most BLOCK_VOXELS values (raw,
 * unscaled), calling onBlock(values, count, firstVoxelIndex). The reader must
 * be positioned `consumed` bytes into the decompressed file.
 */
export async function streamVoxels(
  reader: ByteReader,
  header: NiftiHeader,
  layout: DataLayout,
  consumed: number,
  filePath: string,
  onBlock: (values: Float64Array, count: number, firstIndex: number) => void,
): Promise<void> {
  const toSkip = layout.dataOffset - consumed;
  const skipped = await reader.skip(toSkip);
  if (skipped < toSkip) throw truncatedData(filePath, layout, 0);
  const decode = voxelDecoder(header.datatype, layout.bytesPerVoxel, header.littleEndian);
  const blockVoxels = Math.min(BLOCK_VOXELS, layout.voxels);
  const staging = Buffer.alloc(blockVoxels * layout.bytesPerVoxel);
  const values = new Float64Array(blockVoxels);
  let done = 0;
  while (done < layout.voxels) {
    const count = Math.min(blockVoxels, layout.voxels - done);
    const wanted = count * layout.bytesPerVoxel;
    let filled = 0;
    while (filled < wanted) {
      const chunk = await reader.nextChunk(wanted - filled);
      if (!chunk) throw truncatedData(filePath, layout, done * layout.bytesPerVoxel + filled);
      chunk.copy(staging, filled);
      filled += chunk.length;
    }
    decode(staging, count, values);
    onBlock(values, count, done);
    done += count;
  }
}

function truncatedData(filePath: string, layout: DataLayout, gotBytes: number): NiftiValidationError {
  return new NiftiValidationError(
    'truncated',
    `file ends after ${gotBytes} of ${layout.dataBytes} voxel-data bytes claimed by the header (${layout.shape.join('x')}): ${filePath}`,
    { path: filePath, dataBytes: layout.dataBytes, gotBytes },
  );
}
