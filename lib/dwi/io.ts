// Series I/O for DWI derivation: reading a 4D series straight into one
// Float32Array (on a SharedArrayBuffer when workers will share it) while
// hashing the file, and writing 4D intermediates as a gzip stream so that no
// second full-size buffer is built.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { encodeNifti1, scalingOf, type NiftiHeader } from '../nifti/index.js';
import { checkedLayout, classifyError, openNifti, readHeaderFrom, streamVoxels } from '../nifti/stream.js';
import { DEFAULT_READ_MAX_VOXELS } from '../nifti/read.js';

export interface LoadedSeries {
  header: NiftiHeader;
  data: Float32Array;
  shape: number[];
  /** SHA-256 of the file bytes. */
  sha256: string;
}

/** Read a NIfTI image (scaled values) into a Float32Array, optionally backed by a SharedArrayBuffer. */
export async function readSeries(filePath: string, opts: { shared?: boolean } = {}): Promise<LoadedSeries> {
  const opened = await openNifti(filePath, { hash: true });
  try {
    const { header, consumed } = await readHeaderFrom(opened, filePath);
    const layout = checkedLayout(opened, header, DEFAULT_READ_MAX_VOXELS, filePath);
    const data = opts.shared
      ? new Float32Array(new SharedArrayBuffer(layout.voxels * 4))
      : new Float32Array(layout.voxels);
    const { slope, inter } = scalingOf(header);
    await streamVoxels(opened.reader, header, layout, consumed, filePath, (values, count, first) => {
      for (let i = 0; i < count; i++) data[first + i] = values[i] * slope + inter;
    });
    // Drain whatever follows the voxel data so the hash covers the whole file.
    while (await opened.reader.nextChunk(1 << 20)) { /* drain */ }
    return { header, data, shape: layout.shape, sha256: opened.hash!.digest('hex') };
  } catch (err) {
    throw classifyError(err, filePath);
  } finally {
    await opened.reader.close();
  }
}

/** SHA-256 of a file, streamed. */
export async function sha256File(filePath: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await fs.open(filePath, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/**
 * Write a float32 4D series with the geometry of `header` as .nii.gz
 * (gzip level 1: intermediates favour speed), streamed volume by volume.
 * Returns the SHA-256 of the written file; the write is atomic (temp + rename).
 */
export async function writeSeries(filePath: string, header: NiftiHeader, shape: readonly number[], data: Float32Array): Promise<{ sha256: string; bytes: number }> {
  const [nx, ny, nz, nv] = shape;
  const nvox = nx * ny * nz;
  // The encoder writes a 3D header for one volume of a 4D geometry; set dim[0] = 4 and dim[4] = nv.
  const head = Buffer.from(encodeNifti1(header, data.subarray(0, nvox)).subarray(0, 352));
  head.writeInt16LE(4, 40);
  head.writeInt16LE(nv, 48);
  const dir = path.dirname(filePath);
  await fs.mkdir(dir, { recursive: true });
  const temp = path.join(dir, `.${path.basename(filePath)}.${randomBytes(6).toString('hex')}.tmp`);
  const hash = createHash('sha256');
  let bytes = 0;
  async function* chunks(): AsyncGenerator<Buffer> {
    yield head;
    for (let v = 0; v < nv; v++) {
      const volume = data.subarray(v * nvox, (v + 1) * nvox);
      // Copy: a Buffer over a SharedArrayBuffer may change while zlib reads it.
      yield Buffer.from(new Uint8Array(volume.buffer, volume.byteOffset, volume.byteLength));
    }
  }
  const gzip = createGzip({ level: 1 });
  gzip.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  try {
    await pipeline(Readable.from(chunks()), gzip, createWriteStream(temp));
    await fs.rename(temp, filePath);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  return { sha256: hash.digest('hex'), bytes };
}
