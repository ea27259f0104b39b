// Reading a TF.js layers-model (model.json + weight shards) into plain layers with Float32 weights.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ModelError } from './errors.js';

/** One 3-D convolution as stored by TF.js: kernel [kd, kh, kw, cin, cout], channels-last. */
export interface TfjsConv3d {
  kind: 'conv3d';
  name: string;
  filters: number;
  kernelSize: [number, number, number];
  dilation: [number, number, number];
  strides: [number, number, number];
  padding: 'same' | 'valid';
  /** Activation fused into the layer ('linear' when none). */
  activation: string;
  kernel: Float32Array;
  kernelShape: number[];
  bias?: Float32Array;
}

export interface TfjsActivation {
  kind: 'activation';
  name: string;
  activation: string;
}

export type TfjsLayer = TfjsConv3d | TfjsActivation;

export interface TfjsModel {
  name: string;
  /** batch_input_shape without the batch: [D, H, W, C]. */
  inputShape: (number | null)[];
  layers: TfjsLayer[];
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

interface LayerConfig {
  class_name: string;
  name?: string;
  config: Record<string, unknown>;
}

const SUPPORTED_LAYERS = new Set(['InputLayer', 'Conv3D', 'Activation']);

/** Parse model.json text and its concatenated weight bytes (shards in manifest order). */
export function parseTfjsModel(modelJson: string, weightBytes: Uint8Array): TfjsModel {
  const spec = JSON.parse(modelJson) as {
    format?: string;
    modelTopology?: { model_config?: { config?: { name?: string; layers?: LayerConfig[] } } };
    weightsManifest?: { paths: string[]; weights: WeightSpec[] }[];
  };
  const config = spec.modelTopology?.model_config?.config;
  if (!config?.layers || !spec.weightsManifest) {
    throw new ModelError('unsupported_model', 'model.json has no layers-model topology or weights manifest');
  }
  const weights = sliceWeights(spec.weightsManifest.flatMap((g) => g.weights), weightBytes);
  const input = config.layers.find((l) => l.class_name === 'InputLayer');
  const inputShape = ((input?.config.batch_input_shape as (number | null)[] | undefined) ?? []).slice(1);
  const layers: TfjsLayer[] = [];
  for (const layer of config.layers) {
    if (!SUPPORTED_LAYERS.has(layer.class_name)) {
      throw new ModelError('unsupported_model', `layer class ${layer.class_name} is not supported`);
    }
    const name = String(layer.config.name ?? layer.name);
    if (layer.class_name === 'Activation') {
      layers.push({ kind: 'activation', name, activation: String(layer.config.activation) });
    } else if (layer.class_name === 'Conv3D') {
      layers.push(conv3dOf(name, layer.config, weights));
    }
  }
  return { name: config.name ?? 'model', inputShape, layers };
}

/** Read model.json and the shards it names from one folder. */
export async function readTfjsModel(modelJsonPath: string): Promise<TfjsModel> {
  const text = await fs.readFile(modelJsonPath, 'utf8');
  const manifest = (JSON.parse(text) as { weightsManifest?: { paths: string[] }[] }).weightsManifest ?? [];
  const dir = path.dirname(modelJsonPath);
  const shards = await Promise.all(manifest.flatMap((g) => g.paths).map((p) => fs.readFile(path.join(dir, p))));
  return parseTfjsModel(text, new Uint8Array(Buffer.concat(shards)));
}

function sliceWeights(specs: WeightSpec[], bytes: Uint8Array): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  let offset = 0;
  for (const w of specs) {
    if (w.dtype !== 'float32') throw new ModelError('unsupported_model', `weight ${w.name} has dtype ${w.dtype}`);
    const count = w.shape.reduce((a, b) => a * b, 1);
    const end = offset + count * 4;
    if (end > bytes.length) throw new ModelError('corrupt_model', `weights end after ${bytes.length} bytes, ${w.name} needs ${end}`);
    // Copy so the array is 4-byte aligned whatever the shard offset.
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(offset, end));
    out.set(w.name, { shape: w.shape, data });
    offset = end;
  }
  if (offset !== bytes.length) throw new ModelError('corrupt_model', `weights manifest covers ${offset} of ${bytes.length} bytes`);
  return out;
}

function triple(value: unknown, fallback: number): [number, number, number] {
  if (Array.isArray(value) && value.length === 3) return value.map(Number) as [number, number, number];
  if (typeof value === 'number') return [value, value, value];
  return [fallback, fallback, fallback];
}

function conv3dOf(name: string, config: Record<string, unknown>, weights: Map<string, { shape: number[]; data: Float32Array }>): TfjsConv3d {
  if (config.data_format && config.data_format !== 'channels_last') {
    throw new ModelError('unsupported_model', `${name}: data_format ${String(config.data_format)}`);
  }
  const kernel = weights.get(`${name}/kernel`);
  if (!kernel) throw new ModelError('corrupt_model', `${name}: kernel weights missing`);
  const bias = config.use_bias ? weights.get(`${name}/bias`) : undefined;
  if (config.use_bias && !bias) throw new ModelError('corrupt_model', `${name}: bias weights missing`);
  const padding = String(config.padding ?? 'valid');
  if (padding !== 'same' && padding !== 'valid') throw new ModelError('unsupported_model', `${name}: padding ${padding}`);
  return {
    kind: 'conv3d',
    name,
    filters: Number(config.filters),
    kernelSize: triple(config.kernel_size, 1),
    dilation: triple(config.dilation_rate, 1),
    strides: triple(config.strides, 1),
    padding,
    activation: String(config.activation ?? 'linear'),
    kernel: kernel.data,
    kernelShape: kernel.shape,
    bias: bias?.data,
  };
}
