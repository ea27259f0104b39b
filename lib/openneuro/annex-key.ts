// git-annex keys as OpenNeuro returns them for file ids: `MD5E-s<size>--<md5>.<ext>`,
// `SHA256E-s<size>--<sha256>.<ext>` (and the extension-less MD5 / SHA256 backends).

export type AnnexBackend = 'MD5' | 'SHA256';

export interface AnnexKey {
  backend: AnnexBackend;
  /** Content size in bytes, from the key's -s field. */
  size: number;
  /** Lower-case hex digest of the content. */
  digest: string;
}

const KEY_PATTERN = /^(MD5E?|SHA256E?)-s(\d+)(?:-[^-]*)*--([0-9a-fA-F]+)(\.[^/]*)?$/;

/** Parse an annex key; null for anything else (git blob ids, submodules, ...). */
export function parseAnnexKey(key: string | undefined | null): AnnexKey | null {
  if (!key) return null;
  const m = KEY_PATTERN.exec(key);
  if (!m) return null;
  const backend: AnnexBackend = m[1].startsWith('MD5') ? 'MD5' : 'SHA256';
  const digest = m[3].toLowerCase();
  const wantLength = backend === 'MD5' ? 32 : 64;
  // E-backends append the extension after the digest, so the digest itself is fixed-length.
  if (digest.length !== wantLength) return null;
  return { backend, size: Number(m[2]), digest };
}

/** Build an MD5E/SHA256E key the way git-annex does: extension kept (at most two parts, each short). */
export function makeAnnexKey(backend: AnnexBackend, size: number, digest: string, fileName: string): string {
  return `${backend}E-s${size}--${digest}${annexExtension(fileName)}`;
}

/** The extension git-annex keeps in E-backend keys, e.g. `.nii.gz` for `x_T1w.nii.gz`. */
export function annexExtension(fileName: string): string {
  const base = fileName.split('/').pop() ?? '';
  // git-annex keeps at most the last two extension parts, each short and alphanumeric.
  const parts = base.split('.').slice(1);
  const kept: string[] = [];
  for (let i = parts.length - 1; i >= 0 && kept.length < 2; i--) {
    const part = parts[i];
    if (part.length === 0 || part.length > 4 || !/^[A-Za-z0-9]+$/.test(part)) break;
    kept.unshift(part);
  }
  return kept.length ? `.${kept.join('.')}` : '';
}
