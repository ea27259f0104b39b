// BIDS path parsing and image classification: which files become scans, and as what modality.

export interface BidsPath {
  path: string; // relative POSIX path in the dataset
  subject: string; // 'sub-01'
  session: string; // 'ses-1' or ''
  datatype: string; // 'anat' | 'dwi' | 'pet' | ...
  entities: Record<string, string>; // key -> value, in file-name order
  suffix: string; // 'T1w'
  extension: string; // '.nii.gz'
  stem: string; // file name without extension
}

const NIFTI_EXT = /\.nii(\.gz)?$/;

/** Parse a BIDS data-file path; null unless it is sub-XX/[ses-YY/]<datatype>/<name>. */
export function parseBidsPath(path: string): BidsPath | null {
  const parts = path.split('/');
  if (parts.length < 3 || parts.length > 4) return null;
  const [sub, maybeSes] = parts;
  if (!/^sub-[A-Za-z0-9]+$/.test(sub)) return null;
  const hasSession = parts.length === 4;
  if (hasSession && !/^ses-[A-Za-z0-9]+$/.test(maybeSes)) return null;
  const datatype = parts[parts.length - 2];
  const file = parts[parts.length - 1];
  const extMatch = file.match(/(\.[A-Za-z0-9]+)+$/);
  const extension = extMatch ? extMatch[0] : '';
  const stem = file.slice(0, file.length - extension.length);
  const pieces = stem.split('_');
  const suffix = pieces.pop() ?? '';
  const entities: Record<string, string> = {};
  for (const p of pieces) {
    const i = p.indexOf('-');
    if (i <= 0) return null;
    entities[p.slice(0, i)] = p.slice(i + 1);
  }
  return { path, subject: sub, session: hasSession ? maybeSes : '', datatype, entities, suffix, extension, stem };
}

/**
 * BIDS suffix → OpenMind modality, for the image types OpenMind keeps.
 * MP2RAGE parts keep their own suffix; `part-mag`/`inv-N` entities stay in the name.
 */
const ANAT_MODALITIES: Record<string, string> = {
  T1w: 'T1w', T2w: 'T2w', FLAIR: 'FLAIR', PDw: 'PDw', PD: 'PDw', T2starw: 'T2starw', T2star: 'T2starw',
  FLASH: 'FLASH', angio: 'angio', inplaneT1: 'inplaneT1', inplaneT2: 'inplaneT2', T1map: 'T1map',
  T2map: 'T2map', T2starmap: 'T2starmap', R1map: 'R1map', R2starmap: 'R2starmap', PDmap: 'PDmap',
  MP2RAGE: 'MP2RAGE', UNIT1: 'UNIT1', MPRAGE: 'T1w', T1rho: 'T1rho', PDT2: 'PDT2', MESE: 'MESE',
  MEGRE: 'T2starw', VFA: 'VFA', IRT1: 'IRT1', MTR: 'MTR', MTsat: 'MTsat', TB1map: 'TB1map', swi: 'SWI',
  minIP: 'SWI', SWImagandphase: 'SWI', R2map: 'R2map', MTS: 'MTS', MPM: 'MPM', RB1map: 'RB1map', S0map: 'S0map',
  M0map: 'M0map', veno: 'angio',
};

export type ScanKind = '3d' | 'dwi';
export interface ImageClass {
  modality: string;
  kind: ScanKind;
}

/** Classify a dataset file as a scan to process, or null when OpenMind does not keep it. */
export function classifyImage(path: string): ImageClass | null {
  if (!NIFTI_EXT.test(path)) return null;
  const p = parseBidsPath(path);
  if (!p) return null;
  if (p.datatype === 'anat' && ANAT_MODALITIES[p.suffix]) {
    if (p.entities.part === 'phase') return null; // phase images carry no anatomy intensity
    return { modality: ANAT_MODALITIES[p.suffix], kind: '3d' };
  }
  if (p.datatype === 'dwi' && p.suffix === 'dwi') return { modality: 'DWI', kind: 'dwi' };
  if (p.datatype === 'pet' && p.suffix === 'pet') return { modality: 'PET', kind: '3d' };
  return null;
}

/** Scan id: `<dataset id>:<BIDS path without extension>`, stable and readable. */
export function scanIdFor(datasetId: string, path: string): string {
  return `${datasetId}:${path.replace(NIFTI_EXT, '')}`;
}

/** The sidecar files a DWI series needs beside it. */
export function dwiSidecars(path: string): { bval: string; bvec: string; json: string } {
  const base = path.replace(NIFTI_EXT, '');
  return { bval: `${base}.bval`, bvec: `${base}.bvec`, json: `${base}.json` };
}

/** Is this a metadata file a dataset's harmonization reads? */
export function isMetadataFile(path: string): boolean {
  const name = path.split('/').pop() ?? '';
  return (
    name === 'dataset_description.json' || name === 'participants.tsv' || name === 'participants.json' ||
    /_sessions\.(tsv|json)$/.test(name) || /_scans\.(tsv|json)$/.test(name) ||
    (name.endsWith('.json') && !path.startsWith('derivatives/') && !path.startsWith('sourcedata/')) ||
    /\.(bval|bvec)$/.test(name)
  );
}

/** Safe relative path: no absolute paths, no `..`, no control or odd characters. */
export function isSafeRelativePath(p: string): boolean {
  if (!p || p.length > 1024 || p.startsWith('/') || p.includes('\\')) return false;
  if (!/^[A-Za-z0-9._\-+=/@,]+$/.test(p)) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}
