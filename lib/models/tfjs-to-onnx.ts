// Converts a TF.js 3-D convolution network (MeshNet style: Conv3D + Activation layers) into an
// ONNX graph, built with onnx-proto. Channels-last TF.js becomes channels-first ONNX (N, C, D, H, W);
// the spatial axes keep their order, so ONNX input[0, 0, d, h, w] = TF.js input[0, d, h, w, 0].
import onnxProto from 'onnx-proto';
import { ModelError } from './errors.js';
import type { TfjsConv3d, TfjsLayer, TfjsModel } from './tfjs.js';

const { onnx } = onnxProto;

export interface ConvertOptions {
  /**
   * Insert an InstanceNormalization (no affine, per channel) right after these convolutions, before
   * their activation. MindGrab's file stores none, brainchop adds one after every hidden convolution.
   * Default: every convolution but the last.
   */
  instanceNormAfter?: (layer: TfjsConv3d, index: number, convCount: number) => boolean;
  /** InstanceNormalization epsilon (PyTorch's GroupNorm default). */
  epsilon?: number;
  /** 'op': ONNX Gelu (opset 20); 'erf': 0.5·x·(1 + erf(x/√2)) from opset-13 ops. Default 'op'. */
  gelu?: 'op' | 'erf';
  /** Final output: class probabilities (Softmax over channels) or raw logits. Default 'softmax'. */
  output?: 'softmax' | 'logits';
}

export const ONNX_INPUT_NAME = 'input';
export const ONNX_OUTPUT_NAME = 'output';

const FLOAT = onnx.TensorProto.DataType.FLOAT;

/** Small graph-building state: nodes, initializers and unique value names. */
class GraphBuilder {
  readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private counter = 0;

  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  constant(name: string, dims: number[], values: Float32Array): string {
    this.initializers.push(
      onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) }),
    );
    return name;
  }

  node(opType: string, inputs: string[], attributes: InstanceType<typeof onnx.AttributeProto>[] = [], output?: string): string {
    const out = output ?? this.fresh(opType.toLowerCase());
    this.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: [out], name: this.fresh(`n_${opType}`), attribute: attributes }));
    return out;
  }
}

function intsAttr(name: string, ints: number[]): InstanceType<typeof onnx.AttributeProto> {
  return onnx.AttributeProto.create({ name, ints, type: onnx.AttributeProto.AttributeType.INTS });
}

function floatAttr(name: string, f: number): InstanceType<typeof onnx.AttributeProto> {
  return onnx.AttributeProto.create({ name, f, type: onnx.AttributeProto.AttributeType.FLOAT });
}

function intAttr(name: string, i: number): InstanceType<typeof onnx.AttributeProto> {
  return onnx.AttributeProto.create({ name, i, type: onnx.AttributeProto.AttributeType.INT });
}

/** TF.js kernel [kd, kh, kw, cin, cout] -> ONNX weight [cout, cin, kd, kh, kw]. */
export function kernelToOnnx(conv: TfjsConv3d): { dims: number[]; data: Float32Array } {
  const [kd, kh, kw, cin, cout] = conv.kernelShape;
  const out = new Float32Array(conv.kernel.length);
  for (let z = 0; z < kd; z++)
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let ci = 0; ci < cin; ci++)
          for (let co = 0; co < cout; co++) {
            const src = (((z * kh + y) * kw + x) * cin + ci) * cout + co;
            const dst = (((co * cin + ci) * kd + z) * kh + y) * kw + x;
            out[dst] = conv.kernel[src];
          }
  return { dims: [cout, cin, kd, kh, kw], data: out };
}

/** Symmetric 'same' padding per axis for stride 1: (k - 1) · d / 2 on both sides. */
function samePads(conv: TfjsConv3d): number[] {
  const half = conv.kernelSize.map((k, i) => {
    const total = (k - 1) * conv.dilation[i];
    if (total % 2 !== 0) throw new ModelError('unsupported_model', `${conv.name}: asymmetric 'same' padding`);
    return total / 2;
  });
  return [...half, ...half];
}

function addConv(g: GraphBuilder, input: string, conv: TfjsConv3d): string {
  if (conv.strides.some((s) => s !== 1)) throw new ModelError('unsupported_model', `${conv.name}: strides other than 1`);
  const w = kernelToOnnx(conv);
  const inputs = [input, g.constant(`${conv.name}.weight`, w.dims, w.data)];
  if (conv.bias) inputs.push(g.constant(`${conv.name}.bias`, [conv.filters], conv.bias));
  const pads = conv.padding === 'same' ? samePads(conv) : [0, 0, 0, 0, 0, 0];
  return g.node('Conv', inputs, [intsAttr('kernel_shape', conv.kernelSize), intsAttr('dilations', conv.dilation), intsAttr('strides', [1, 1, 1]), intsAttr('pads', pads)]);
}

function addInstanceNorm(g: GraphBuilder, input: string, conv: TfjsConv3d, epsilon: number): string {
  const scale = g.constant(`${conv.name}.in_scale`, [conv.filters], new Float32Array(conv.filters).fill(1));
  const bias = g.constant(`${conv.name}.in_bias`, [conv.filters], new Float32Array(conv.filters));
  return g.node('InstanceNormalization', [input, scale, bias], [floatAttr('epsilon', epsilon)]);
}

function scalar(g: GraphBuilder, name: string, value: number): string {
  if (!g.initializers.some((t) => t.name === name)) g.constant(name, [], new Float32Array([value]));
  return name;
}

function addGeluErf(g: GraphBuilder, x: string): string {
  const scaled = g.node('Mul', [x, scalar(g, 'gelu.inv_sqrt2', Math.SQRT1_2)]);
  const erf = g.node('Erf', [scaled]);
  const onePlus = g.node('Add', [erf, scalar(g, 'gelu.one', 1)]);
  const half = g.node('Mul', [x, scalar(g, 'gelu.half', 0.5)]);
  return g.node('Mul', [half, onePlus]);
}

function addActivation(g: GraphBuilder, input: string, activation: string, gelu: 'op' | 'erf'): string {
  switch (activation) {
    case 'linear':
      return input;
    case 'relu':
      return g.node('Relu', [input]);
    case 'elu':
      return g.node('Elu', [input]);
    case 'sigmoid':
      return g.node('Sigmoid', [input]);
    case 'tanh':
      return g.node('Tanh', [input]);
    case 'gelu':
      return gelu === 'op' ? g.node('Gelu', [input]) : addGeluErf(g, input);
    default:
      throw new ModelError('unsupported_model', `activation ${activation} is not supported`);
  }
}

/** Build the ONNX ModelProto of a TF.js MeshNet-style model (dynamic D, H, W). */
export function tfjsToOnnxModel(model: TfjsModel, opts: ConvertOptions = {}): InstanceType<typeof onnx.ModelProto> {
  const gelu = opts.gelu ?? 'op';
  const epsilon = opts.epsilon ?? 1e-5;
  const convs = model.layers.filter((l): l is TfjsConv3d => l.kind === 'conv3d');
  if (convs.length === 0) throw new ModelError('unsupported_model', 'model has no Conv3D layer');
  const normAfter = opts.instanceNormAfter ?? ((_l, i, n) => i < n - 1);
  const inChannels = convs[0].kernelShape[3];
  const outChannels = convs[convs.length - 1].filters;

  const g = new GraphBuilder();
  let current = ONNX_INPUT_NAME;
  let convIndex = 0;
  for (const layer of model.layers as TfjsLayer[]) {
    if (layer.kind === 'conv3d') {
      current = addConv(g, current, layer);
      if (normAfter(layer, convIndex, convs.length)) current = addInstanceNorm(g, current, layer, epsilon);
      current = addActivation(g, current, layer.activation, gelu);
      convIndex++;
    } else {
      current = addActivation(g, current, layer.activation, gelu);
    }
  }
  const output = opts.output ?? 'softmax';
  if (output === 'softmax') g.node('Softmax', [current], [intAttr('axis', 1)], ONNX_OUTPUT_NAME);
  else g.node('Identity', [current], [], ONNX_OUTPUT_NAME);

  const dims = (names: (string | number)[]) =>
    names.map((d) => (typeof d === 'number' ? onnx.TensorShapeProto.Dimension.create({ dimValue: d }) : onnx.TensorShapeProto.Dimension.create({ dimParam: d })));
  const valueInfo = (name: string, channels: number) =>
    onnx.ValueInfoProto.create({
      name,
      type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: FLOAT, shape: onnx.TensorShapeProto.create({ dim: dims([1, channels, 'D', 'H', 'W']) }) }) }),
    });
  const graph = onnx.GraphProto.create({
    name: model.name,
    node: g.nodes,
    initializer: g.initializers,
    input: [valueInfo(ONNX_INPUT_NAME, inChannels)],
    output: [valueInfo(ONNX_OUTPUT_NAME, outChannels)],
  });
  // Gelu needs opset 20, which ONNX pairs with IR version 9; the erf form runs on opset 13 / IR 7.
  const opset = gelu === 'op' ? 20 : 13;
  return onnx.ModelProto.create({
    irVersion: gelu === 'op' ? 9 : 7,
    producerName: 'openmind-tfjs-to-onnx',
    producerVersion: '1',
    graph,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: opset })],
  });
}

/** Serialized ONNX bytes of a TF.js model. */
export function tfjsToOnnxBytes(model: TfjsModel, opts: ConvertOptions = {}): Uint8Array {
  return onnx.ModelProto.encode(tfjsToOnnxModel(model, opts)).finish();
}
