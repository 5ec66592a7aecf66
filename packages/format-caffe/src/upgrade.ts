/**
 * Old Caffe net formats → the current one, as Caffe's upgrade_proto.cpp does:
 * V1 layers (`layers { type: CONVOLUTION … }`, V1LayerParameter) become LayerParameter with a
 * string type, and the legacy NetParameter inputs (`input:` with `input_dim:` or `input_shape`)
 * become graph inputs. The V0 format (`layers { layer { … } }`) and Caffe's data-layer transform
 * upgrade are not handled.
 */
import { McuError } from '@mcu/core';
import { field } from './schema.js';
import type { CaffeInput, Message } from './types.js';

/** V1LayerParameter.LayerType → current type name (Caffe's UpgradeV1LayerType). */
export const V1_LAYER_TYPES: Readonly<Record<string, string>> = {
  ABSVAL: 'AbsVal',
  ACCURACY: 'Accuracy',
  ARGMAX: 'ArgMax',
  BNLL: 'BNLL',
  CONCAT: 'Concat',
  CONTRASTIVE_LOSS: 'ContrastiveLoss',
  CONVOLUTION: 'Convolution',
  DECONVOLUTION: 'Deconvolution',
  DATA: 'Data',
  DROPOUT: 'Dropout',
  DUMMY_DATA: 'DummyData',
  EUCLIDEAN_LOSS: 'EuclideanLoss',
  ELTWISE: 'Eltwise',
  EXP: 'Exp',
  FLATTEN: 'Flatten',
  HDF5_DATA: 'HDF5Data',
  HDF5_OUTPUT: 'HDF5Output',
  HINGE_LOSS: 'HingeLoss',
  IM2COL: 'Im2col',
  IMAGE_DATA: 'ImageData',
  INFOGAIN_LOSS: 'InfogainLoss',
  INNER_PRODUCT: 'InnerProduct',
  LRN: 'LRN',
  MEMORY_DATA: 'MemoryData',
  MULTINOMIAL_LOGISTIC_LOSS: 'MultinomialLogisticLoss',
  MVN: 'MVN',
  POOLING: 'Pooling',
  POWER: 'Power',
  RELU: 'ReLU',
  SIGMOID: 'Sigmoid',
  SIGMOID_CROSS_ENTROPY_LOSS: 'SigmoidCrossEntropyLoss',
  SILENCE: 'Silence',
  SOFTMAX: 'Softmax',
  SOFTMAX_LOSS: 'SoftmaxWithLoss',
  SPLIT: 'Split',
  SLICE: 'Slice',
  TANH: 'TanH',
  WINDOW_DATA: 'WindowData',
  THRESHOLD: 'Threshold',
};

/** V1 fields copied unchanged (same name and message type in LayerParameter). */
const V1_COPIED = [
  'name',
  'bottom',
  'top',
  'include',
  'exclude',
  'blobs',
  'loss_weight',
  'transform_param',
  'loss_param',
  'accuracy_param',
  'concat_param',
  'contrastive_loss_param',
  'convolution_param',
  'data_param',
  'dropout_param',
  'dummy_data_param',
  'eltwise_param',
  'exp_param',
  'hdf5_data_param',
  'hdf5_output_param',
  'hinge_loss_param',
  'image_data_param',
  'infogain_loss_param',
  'inner_product_param',
  'lrn_param',
  'memory_data_param',
  'pooling_param',
  'power_param',
  'relu_param',
  'sigmoid_param',
  'softmax_param',
  'slice_param',
  'tanh_param',
  'threshold_param',
  'window_data_param',
] as const;

/** A layer in the current format and the message it came from (itself, or the V1 layer), for line numbers. */
export interface UpgradedLayer {
  readonly layer: Message;
  readonly source: Message;
}

/** The layers of a net in the current format, and what the upgrade did (one line each). */
export interface UpgradedLayers {
  readonly layers: readonly UpgradedLayer[];
  readonly warnings: string[];
}

/**
 * The layers of NetParameter `net` in the current format: `layer` as is, or `layers` (V1)
 * upgraded. Both present → E_MODEL (Caffe refuses such a net too); a V1 layer without a type
 * (e.g. a V0 net) → E_UNSUPPORTED.
 */
export function upgradeLayers(net: Message, fileName: string): UpgradedLayers {
  const current = (net.layer as readonly Message[] | undefined) ?? [];
  const v1 = (net.layers as readonly Message[] | undefined) ?? [];
  if (current.length > 0 && v1.length > 0) {
    throw new McuError(
      'E_MODEL',
      `${fileName}: expected layers in one format, got both 'layer' (${current.length}, current) and 'layers' (${v1.length}, V1) entries; Caffe refuses such a net too: keep one (tools/upgrade_net_proto_text converts V1)`,
    );
  }
  if (v1.length === 0) return { layers: current.map((layer) => ({ layer, source: layer })), warnings: [] };
  const layers = v1.map((source, i) => ({ layer: upgradeV1Layer(source, fileName, i), source }));
  return {
    layers,
    warnings: [
      `${fileName}: upgraded ${v1.length} V1 layer${v1.length === 1 ? '' : 's'} ('layers' with enum types) to the current format, as Caffe's upgrade_proto does`,
    ],
  };
}

/** One V1LayerParameter → LayerParameter (type name; blobs_lr / weight_decay / param names → ParamSpec). */
export function upgradeV1Layer(v1: Message, fileName: string, index: number): Message {
  const out: Record<string, unknown> = {};
  for (const key of V1_COPIED) if (v1[key] !== undefined) out[key] = v1[key];
  const label = typeof v1.name === 'string' ? `'${v1.name}'` : `${index + 1} (unnamed)`;
  const type = v1.type;
  if (typeof type !== 'string') {
    throw new McuError(
      'E_UNSUPPORTED',
      `${fileName}: expected a type in V1 layer ${label}, got none; a V0 net ('layers { layer { … } }') is not supported: convert it with Caffe's tools/upgrade_net_proto_text`,
    );
  }
  const name = V1_LAYER_TYPES[type];
  if (name === undefined) {
    throw new McuError('E_MODEL', `${fileName}: expected a V1 layer type in V1 layer ${label}, got ${type}; give the layer a real type`);
  }
  out.type = name;
  const specs: Record<string, unknown>[] = [];
  const at = (i: number): Record<string, unknown> => {
    while (specs.length <= i) specs.push({});
    return specs[i];
  };
  ((v1.param as readonly string[] | undefined) ?? []).forEach((n, i) => (at(i).name = n));
  ((v1.blob_share_mode as readonly string[] | undefined) ?? []).forEach((m, i) => (at(i).share_mode = m));
  (field(v1, 'V1LayerParameter', 'blobs_lr') as Float32Array).forEach((v, i) => (at(i).lr_mult = v));
  (field(v1, 'V1LayerParameter', 'weight_decay') as Float32Array).forEach((v, i) => (at(i).decay_mult = v));
  if (specs.length > 0) out.param = specs;
  return out as Message;
}

/**
 * The graph inputs declared the legacy way in NetParameter `net`: `input` names with either 4
 * `input_dim` each or one `input_shape` each. An input with neither has shape undefined (the user
 * gives it). Mismatched counts, or both input_dim and input_shape → E_MODEL.
 */
export function legacyInputs(net: Message, fileName: string): CaffeInput[] {
  const names = (net.input as readonly string[] | undefined) ?? [];
  const dims = (net.input_dim as readonly number[] | undefined) ?? [];
  const shapes = (net.input_shape as readonly Message[] | undefined) ?? [];
  if (dims.length > 0 && shapes.length > 0) {
    throw new McuError(
      'E_MODEL',
      `${fileName}: expected input_dim or input_shape, got both (${dims.length} input_dim, ${shapes.length} input_shape); keep one of them`,
    );
  }
  if (names.length === 0) {
    if (dims.length > 0 || shapes.length > 0) {
      throw new McuError(
        'E_MODEL',
        `${fileName}: expected an 'input: "name"' for the ${dims.length > 0 ? 'input_dim' : 'input_shape'} given, got none; add the input's name`,
      );
    }
    return [];
  }
  if (dims.length > 0 && dims.length !== 4 * names.length) {
    throw new McuError(
      'E_MODEL',
      `${fileName}: expected 4 input_dim per input (${4 * names.length} for ${names.length} input${names.length === 1 ? '' : 's'}), got ${dims.length}; give num, channels, height, width for each, or use input_shape`,
    );
  }
  if (shapes.length > 0 && shapes.length !== names.length) {
    throw new McuError(
      'E_MODEL',
      `${fileName}: expected one input_shape per input (${names.length}), got ${shapes.length}; give one input_shape { dim: … } for each input`,
    );
  }
  return names.map((name, i) => {
    let shape: number[] | undefined;
    let from = 'input';
    if (dims.length > 0) {
      shape = dims.slice(4 * i, 4 * i + 4);
      from = 'input_dim';
    } else if (shapes.length > 0) {
      shape = [...((shapes[i].dim as readonly number[] | undefined) ?? [])];
      from = 'input_shape';
    }
    const bad = shape?.find((d) => d < 0);
    if (bad !== undefined) {
      throw new McuError('E_MODEL', `${fileName}: expected non-negative ${from} for input '${name}', got ${bad} in [${shape?.join(', ')}]; fix the dimension`);
    }
    return { name, shape, from };
  });
}
