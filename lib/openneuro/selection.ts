// Which files of a snapshot to download: structural/diffusion/PET MRI images by BIDS
// suffix, their gradients and sidecars, every metadata file, and existing deface masks.
// Functional, field maps, derivatives and sourcedata stay out unless asked for.

export type FileRole = 'image' | 'dwi_gradient' | 'defacemask' | 'metadata';

export type Selected<T> = T & { role: FileRole; datatype?: string; suffix?: string };

export interface SelectionOptions {
  /** Datatype folders whose images are kept (default anat, dwi, pet). */
  datatypes?: string[];
  /** anat suffixes kept, compared case-insensitively (default DEFAULT_ANAT_SUFFIXES). */
  anatSuffixes?: readonly string[];
  includeDerivatives?: boolean;
  includeSourcedata?: boolean;
  /** Keep `part-phase` images (default false: no anatomy intensity). */
  includePhase?: boolean;
  /** Glob patterns always kept (`*`, `**`, `?`, `{a,b}`; a pattern without '/' matches any path segment). */
  include?: string[];
  /** Glob patterns always dropped (applied last). */
  exclude?: string[];
}

/** BIDS anatomical suffixes of MRI images worth keeping (current and deprecated names). */
export const DEFAULT_ANAT_SUFFIXES: readonly string[] = [
  'T1w', 'T2w', 'FLAIR', 'PDw', 'PD', 'T2starw', 'T2star', 'FLASH', 'angio', 'inplaneT1', 'inplaneT2',
  'T1map', 'T2map', 'T2starmap', 'R1map', 'R2map', 'R2starmap', 'PDmap', 'PDT2', 'T1rho', 'MP2RAGE', 'UNIT1',
  'MPRAGE', 'MESE', 'MEGRE', 'VFA', 'IRT1', 'MTR', 'MTS', 'MTsat', 'MPM', 'TB1map', 'RB1map', 'S0map', 'M0map',
  'veno', 'swi', 'minIP', 'SWImagandphase',
];

const DEFAULT_DATATYPES = ['anat', 'dwi', 'pet'];
/** Folders whose contents are never raw data of the dataset itself. */
const SIDE_FOLDERS: Record<string, keyof SelectionOptions | null> = {
  derivatives: 'includeDerivatives',
  sourcedata: 'includeSourcedata',
  code: null,
  stimuli: null,
  '.git': null,
  '.datalad': null,
};
const NIFTI = /\.nii(\.gz)?$/;
const TOP_LEVEL_METADATA = /^(dataset_description\.json|participants\.(tsv|json)|README(\.[A-Za-z]+)?|CHANGES(\.[A-Za-z]+)?|LICENSE(\.[A-Za-z]+)?|genetic_info\.json|samples\.(tsv|json))$/i;

interface PathParts {
  dirs: string[];
  name: string;
}

function splitPath(p: string): PathParts {
  const segs = p.split('/');
  const name = segs.pop() ?? '';
  return { dirs: segs, name };
}

/** BIDS suffix of a file name: the last `_`-separated part before the extension. */
export function bidsSuffix(name: string): string {
  const stem = name.replace(/\.[^_]*$/, '');
  const i = stem.lastIndexOf('_');
  return i >= 0 ? stem.slice(i + 1) : stem;
}

/** Is this path inside one of the side folders (derivatives, sourcedata, code, ...) the options keep out? */
function inExcludedSideFolder(dirs: string[], opts: SelectionOptions): boolean {
  for (const d of dirs) {
    if (!(d in SIDE_FOLDERS)) continue;
    const flag = SIDE_FOLDERS[d];
    if (!flag || !opts[flag]) return true;
  }
  return false;
}

/** Subject/session level (sub-X/ or sub-X/ses-Y/, also nested one level in odd datasets). */
function isSubjectOrSessionLevel(dirs: string[]): boolean {
  const last = dirs[dirs.length - 1] ?? '';
  return /^(sub|ses)-/.test(last);
}

/** Classify one path; null when it is not wanted. */
export function classifyForDownload(p: string, opts: SelectionOptions = {}): { role: FileRole; datatype?: string; suffix?: string } | null {
  const { dirs, name } = splitPath(p);
  if (inExcludedSideFolder(dirs, opts)) return null;
  const datatypes = opts.datatypes ?? DEFAULT_DATATYPES;
  const anat = new Set((opts.anatSuffixes ?? DEFAULT_ANAT_SUFFIXES).map((s) => s.toLowerCase()));
  const datatype = dirs[dirs.length - 1];
  const suffix = bidsSuffix(name);

  if (dirs.length === 0) {
    if (TOP_LEVEL_METADATA.test(name) || name.endsWith('.json') || /_(sessions|scans)\.(tsv|json)$/.test(name)) return { role: 'metadata' };
    if (/\.(bval|bvec)$/.test(name) && datatypes.includes('dwi')) return { role: 'dwi_gradient', suffix };
    return null;
  }
  if (/_(sessions|scans)\.(tsv|json)$/.test(name)) return { role: 'metadata' };
  if (isSubjectOrSessionLevel(dirs)) {
    // Inherited sidecars and gradients at subject/session level.
    if (name.endsWith('.json')) return { role: 'metadata' };
    if (/\.(bval|bvec)$/.test(name) && datatypes.includes('dwi')) return { role: 'dwi_gradient', suffix };
    return null;
  }
  if (!datatypes.includes(datatype)) return null;
  if (NIFTI.test(name)) {
    if (suffix === 'defacemask') return { role: 'defacemask', datatype, suffix };
    if (!opts.includePhase && /(^|_)part-phase(_|$)/.test(name)) return null;
    if (datatype === 'anat') return anat.has(suffix.toLowerCase()) ? { role: 'image', datatype, suffix } : null;
    if (datatype === 'dwi') return suffix === 'dwi' ? { role: 'image', datatype, suffix } : null;
    if (datatype === 'pet') return suffix === 'pet' ? { role: 'image', datatype, suffix } : null;
    return { role: 'image', datatype, suffix }; // other datatypes asked for explicitly: every image
  }
  if (/\.(bval|bvec)$/.test(name)) return datatype === 'dwi' ? { role: 'dwi_gradient', datatype, suffix } : null;
  if (name.endsWith('.json')) return { role: 'metadata', datatype, suffix };
  return null;
}

/** Keep the files worth downloading, each tagged with its role. */
export function selectFiles<T extends { path: string }>(entries: readonly T[], opts: SelectionOptions = {}): Selected<T>[] {
  const include = (opts.include ?? []).map(compileGlob);
  const exclude = (opts.exclude ?? []).map(compileGlob);
  const out: Selected<T>[] = [];
  for (const entry of entries) {
    if (exclude.some((g) => g(entry.path))) continue;
    const cls = classifyForDownload(entry.path, opts);
    if (cls) out.push({ ...entry, ...cls });
    else if (include.some((g) => g(entry.path))) out.push({ ...entry, role: roleByName(entry.path) });
  }
  return out;
}

function roleByName(p: string): FileRole {
  if (/_defacemask\.nii(\.gz)?$/.test(p)) return 'defacemask';
  if (NIFTI.test(p)) return 'image';
  if (/\.(bval|bvec)$/.test(p)) return 'dwi_gradient';
  return 'metadata';
}

/**
 * Compile a glob to a path predicate. `**` spans folders, `*` and `?` stay within one
 * segment, `{a,b}` alternates. A pattern without '/' matches any segment (file or folder
 * name); a pattern with '/' matches from the root. Matching a folder keeps everything below it.
 */
export function compileGlob(pattern: string): (path: string) => boolean {
  const anchored = pattern.includes('/');
  const body = globToRegexSource(pattern.replace(/^\/+/, '').replace(/\/+$/, ''));
  const re = anchored ? new RegExp(`^${body}(/.*)?$`) : new RegExp(`(^|/)${body}(/.*)?$`);
  return (p: string) => re.test(p);
}

function globToRegexSource(glob: string): string {
  let out = '';
  let inBraces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const slashAfter = glob[i + 2] === '/';
        out += slashAfter ? '(?:.*/)?' : '.*';
        i += slashAfter ? 2 : 1;
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') out += '[^/]';
    else if (c === '{') {
      inBraces++;
      out += '(?:';
    } else if (c === '}' && inBraces > 0) {
      inBraces--;
      out += ')';
    } else if (c === ',' && inBraces > 0) out += '|';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close < 0) out += '\\[';
      else {
        const cls = glob.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\');
        out += `[${cls}]`;
        i = close;
      }
    } else out += c.replace(/[.+^$()|\\\]]/g, '\\$&');
  }
  return out;
}
