// Per-image acquisition values from JSON sidecars, following the BIDS inheritance principle:
// a sidecar applies to every data file below its folder whose suffix matches and whose entities include the
// sidecar's entities; nearer sidecars (deeper folders, then more entities) override farther ones.

import { parseJsonObject, type JsonObject } from './text.js';
import {
  booleanJson,
  canonicalManufacturer,
  fieldStrength,
  flipAngle,
  phaseEncodingDirection,
  tidyModelName,
  timeInSeconds,
} from './scanner.js';
import type { AcquisitionValues, DatasetTextFiles, HarmonizedImage, HValue, MetadataIssue } from './types.js';
import type { ParsedCell } from './values.js';

const NIFTI = /\.nii(\.gz)?$/;
/** Suffixes of label/mask images that raw BIDS allows beside acquisitions; they are not MRI/PET images. */
const NON_IMAGE_SUFFIX = /^(mask|roi|dseg|probseg|defacemask|seg|labels?)$/i;
/** Top-level folders whose files are not raw data of the dataset. */
const NON_RAW_TOP = /^(derivatives|sourcedata|code|stimuli|phenotype|\.[^/]*)\//;

export interface ParsedName {
  entities: Record<string, string>;
  suffix: string;
}

/** Split a BIDS file name (extension removed) into entities and suffix; undefined if it is not BIDS-like. */
export function parseBidsName(stem: string): ParsedName | undefined {
  const parts = stem.split('_');
  const suffix = parts.pop() ?? '';
  if (!/^[A-Za-z0-9]+$/.test(suffix)) return undefined;
  const entities: Record<string, string> = {};
  for (const p of parts) {
    const i = p.indexOf('-');
    if (i <= 0) return undefined;
    entities[p.slice(0, i)] = p.slice(i + 1);
  }
  return { entities, suffix };
}

export interface ImagePath {
  path: string;
  dir: string;
  subject: string;
  session?: string;
  datatype?: string;
  name: ParsedName;
}

/** A raw-data NIfTI image under a sub-<label> folder, with a BIDS name; undefined for anything else. */
export function parseImagePath(path: string): ImagePath | undefined {
  if (!NIFTI.test(path) || NON_RAW_TOP.test(path)) return undefined;
  const segs = path.split('/');
  if (!/^sub-[^/]+$/.test(segs[0]) || segs.length < 2) return undefined;
  const file = segs[segs.length - 1];
  const name = parseBidsName(file.replace(NIFTI, ''));
  if (!name || NON_IMAGE_SUFFIX.test(name.suffix)) return undefined;
  const session = segs.length >= 3 && /^ses-/.test(segs[1]) ? segs[1] : name.entities.ses ? `ses-${name.entities.ses}` : undefined;
  const parent = segs.length >= 3 ? segs[segs.length - 2] : undefined;
  const datatype = parent && !/^(sub|ses)-/.test(parent) ? parent : undefined;
  return { path, dir: segs.slice(0, -1).join('/'), subject: segs[0], session, datatype, name };
}

interface SidecarEntry {
  path: string;
  name: ParsedName;
}

/** Index of a dataset's JSON sidecars by folder, with parsed contents cached. */
export class SidecarIndex {
  private readonly byDir = new Map<string, SidecarEntry[]>();
  private readonly parsed = new Map<string, JsonObject | undefined>();
  sidecarsParsed = 0;
  sidecarsUnavailable = 0;

  constructor(
    private readonly files: DatasetTextFiles,
    private readonly issues: MetadataIssue[],
  ) {
    for (const p of files.paths()) {
      if (!p.endsWith('.json') || NON_RAW_TOP.test(p)) continue;
      const slash = p.lastIndexOf('/');
      const dir = slash < 0 ? '' : p.slice(0, slash);
      const name = parseBidsName(p.slice(slash + 1, -'.json'.length));
      if (!name) continue;
      let list = this.byDir.get(dir);
      if (!list) this.byDir.set(dir, (list = []));
      list.push({ path: p, name });
    }
  }

  /** Parsed sidecar, or undefined when unavailable/invalid (recorded once). */
  json(path: string): JsonObject | undefined {
    if (this.parsed.has(path)) return this.parsed.get(path);
    const text = this.files.readText(path);
    let obj: JsonObject | undefined;
    if (text === undefined) this.sidecarsUnavailable++;
    else {
      obj = parseJsonObject(path, text, this.issues);
      if (obj) this.sidecarsParsed++;
    }
    this.parsed.set(path, obj);
    return obj;
  }

  /** Applicable sidecars for an image, farthest first. */
  chainFor(img: ImagePath): string[] {
    const segs = img.dir.split('/');
    const dirs = [''];
    for (let i = 1; i <= segs.length; i++) dirs.push(segs.slice(0, i).join('/'));
    const chain: string[] = [];
    for (const dir of dirs) {
      const here = (this.byDir.get(dir) ?? []).filter((s) => appliesTo(s.name, img.name));
      here.sort((a, b) => Object.keys(a.name.entities).length - Object.keys(b.name.entities).length || a.path.localeCompare(b.path));
      for (const s of here) chain.push(s.path);
    }
    return chain;
  }
}

function appliesTo(sidecar: ParsedName, image: ParsedName): boolean {
  if (sidecar.suffix !== image.suffix) return false;
  return Object.entries(sidecar.entities).every(([k, v]) => image.entities[k] === v);
}

/** Merge a chain of sidecars: each key remembers the (nearest) file that set it. */
export function mergeChain(index: SidecarIndex, chain: string[]): { merged: Map<string, { value: unknown; file: string }>; used: string[] } {
  const merged = new Map<string, { value: unknown; file: string }>();
  const used: string[] = [];
  for (const path of chain) {
    const obj = index.json(path);
    if (!obj) continue;
    used.push(path);
    for (const [k, v] of Object.entries(obj)) merged.set(k, { value: v, file: path });
  }
  return { merged, used };
}

/** Dataset-wide evidence that images are brain extracts (e.g. a 'Skull stripping' note in dataset_description). */
export interface BrainExtractEvidence {
  file: string;
  field: string;
  raw: string;
}

export function datasetBrainExtractEvidence(files: DatasetTextFiles, issues: MetadataIssue[]): BrainExtractEvidence | undefined {
  const desc = parseJsonObject('dataset_description.json', files.readText('dataset_description.json'), issues);
  if (desc) {
    for (const [k, v] of Object.entries(desc)) {
      if (/skull/i.test(k) && typeof v === 'string' && /\ball\b[^.]*\b(images|scans|data)\b/i.test(v)) {
        return { file: 'dataset_description.json', field: k, raw: v.slice(0, 200) };
      }
    }
  }
  const readme = ['README', 'README.md', 'README.txt'].map((p) => ({ p, t: files.readText(p) })).find((r) => r.t !== undefined);
  const m = readme?.t?.match(/[^.\n]*\b(dataset|all images|images|data)\s+(was|were|has been|have been|are)\s+skull[- ]?stripped[^.\n]*/i);
  if (readme && m) return { file: readme.p, field: 'text', raw: m[0].trim().slice(0, 200) };
  return undefined;
}

function toH<T>(cell: ParsedCell<T>, file: string, field: string, raw: unknown): HValue<T | null> | undefined {
  if (cell.kind === 'missing') return undefined;
  const rawText = typeof raw === 'string' ? raw : JSON.stringify(raw);
  if (cell.kind === 'unrecognized') return { value: null, provenance: { file, field, raw: rawText, rule: 'unrecognized', confidence: 'inferred', flags: cell.flags } };
  return { value: cell.value, provenance: { file, field, raw: rawText, rule: cell.rule, confidence: cell.confidence, ...(cell.flags.length ? { flags: cell.flags } : {}) } };
}

/** Filename evidence of a brain extract: desc-brain / desc-skullstripped / rec-brain entities. */
function brainExtractFromName(img: ImagePath): HValue<boolean> | undefined {
  const hit = Object.entries(img.name.entities).find(([k, v]) => ['desc', 'rec', 'acq'].includes(k) && /^(brain|skullstripped|brainextracted|bet|stripped)$/i.test(v));
  if (!hit) return undefined;
  return { value: true, provenance: { file: img.path, field: `${hit[0]}-${hit[1]}`, raw: hit[1], rule: 'filename_entity', confidence: 'inferred', flags: ['from_filename'] } };
}

/** Harmonize one image's acquisition values from its merged sidecars. */
export function harmonizeImage(img: ImagePath, index: SidecarIndex, evidence: BrainExtractEvidence | undefined): { image: HarmonizedImage; merged: Map<string, { value: unknown; file: string }> } {
  const { merged, used } = mergeChain(index, index.chainFor(img));
  const acq: AcquisitionValues = {};
  const from = <T>(key: string, parse: (raw: unknown) => ParsedCell<T>): HValue<T | null> | undefined => {
    const hit = merged.get(key);
    return hit ? toH(parse(hit.value), hit.file, key, hit.value) : undefined;
  };
  const set = <K extends keyof AcquisitionValues>(k: K, v: AcquisitionValues[K] | undefined) => {
    if (v) acq[k] = v;
  };
  set('manufacturer', from('Manufacturer', canonicalManufacturer));
  set('modelName', from('ManufacturersModelName', tidyModelName));
  set('magneticFieldStrength', from('MagneticFieldStrength', fieldStrength));
  set('repetitionTime', from('RepetitionTime', (r) => timeInSeconds('RepetitionTime', r)));
  set('echoTime', from('EchoTime', (r) => timeInSeconds('EchoTime', r)));
  set('inversionTime', from('InversionTime', (r) => timeInSeconds('InversionTime', r)));
  set('flipAngle', from('FlipAngle', flipAngle));
  const ped = from('PhaseEncodingDirection', phaseEncodingDirection);
  if (ped) set('phaseEncodingDirection', ped);
  else {
    const axis = merged.get('PhaseEncodingAxis');
    if (axis && typeof axis.value === 'string' && /^[ijk]$/.test(axis.value.trim())) {
      set('phaseEncodingDirection', {
        value: axis.value.trim(),
        provenance: { file: axis.file, field: 'PhaseEncodingAxis', raw: axis.value, rule: 'axis_without_polarity', confidence: 'inferred', flags: ['polarity_unknown'] },
      });
    }
  }
  set('isBrainExtract', brainExtract(img, merged, evidence));
  const image: HarmonizedImage = {
    path: img.path,
    subject: img.subject,
    ...(img.session ? { session: img.session } : {}),
    ...(img.datatype ? { datatype: img.datatype } : {}),
    suffix: img.name.suffix,
    acquisition: acq,
    sidecarChain: used,
  };
  return { image, merged };
}

function brainExtract(img: ImagePath, merged: Map<string, { value: unknown; file: string }>, evidence: BrainExtractEvidence | undefined): HValue<boolean | null> | undefined {
  const ss = merged.get('SkullStripped');
  if (ss) {
    const b = booleanJson(ss.value);
    return b === undefined
      ? { value: null, provenance: { file: ss.file, field: 'SkullStripped', raw: JSON.stringify(ss.value), rule: 'unrecognized', confidence: 'inferred', flags: ['unrecognized_value'] } }
      : { value: b, provenance: { file: ss.file, field: 'SkullStripped', raw: JSON.stringify(ss.value), rule: 'sidecar_skullstripped', confidence: typeof ss.value === 'boolean' ? 'exact' : 'normalized' } };
  }
  const byName = brainExtractFromName(img);
  if (byName) return byName;
  if (evidence) {
    return { value: true, provenance: { file: evidence.file, field: evidence.field, raw: evidence.raw, rule: 'dataset_states_skull_stripped', confidence: 'inferred', flags: ['dataset_level_statement'] } };
  }
  return undefined;
}
