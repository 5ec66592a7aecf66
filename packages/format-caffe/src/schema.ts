/**
 * The Caffe schema as a table: the same messages, fields and enums as `schema/caffe.proto`
 * (the project's subset of BVLC caffe.proto at commit 9b89154, 2020-02-13), which drives both
 * the text-format parser (text.ts) and the binary decoder (wire.ts). test/schema.test.ts parses
 * caffe.proto and checks that this table matches it exactly, so the two cannot drift.
 */
import { McuError } from '@mcu/core';
import type { Message } from './types.js';

/** A field's protobuf type as written in caffe.proto; 'enum' and 'message' name their type separately. */
export type FieldType = 'int32' | 'int64' | 'uint32' | 'uint64' | 'float' | 'double' | 'bool' | 'string' | 'bytes' | 'enum' | 'message';

/** One field of a message: number, type, label and, where caffe.proto declares them, packing and default. */
export interface FieldSpec {
  /** The field number (the key on the wire). */
  readonly no: number;
  readonly type: FieldType;
  readonly label: 'optional' | 'repeated';
  /** `[packed = true]` in caffe.proto (the binary decoder accepts packed and unpacked either way). */
  readonly packed?: boolean;
  /** For type 'enum': the key of {@link CaffeSchema.enums} ('Phase', 'PoolingParameter.PoolMethod'). */
  readonly enumName?: string;
  /** For type 'message': the key of {@link CaffeSchema.messages}. */
  readonly messageName?: string;
  /** `[default = …]` in caffe.proto: a number, a bool, a string, or an enum value's name. */
  readonly default?: number | boolean | string;
}

/** A text-format-only field of a fork, read by name and never by number (see {@link TEXT_EXTENSIONS}). */
export type TextExtensionSpec = Omit<FieldSpec, 'no'>;

/** The whole schema: messages by name (field name → spec), enums by qualified name (value name → number). */
export interface CaffeSchema {
  readonly messages: Readonly<Record<string, Readonly<Record<string, FieldSpec>>>>;
  readonly enums: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

/** The schema of `schema/caffe.proto`, field by field (nested enums are qualified by their message). */
export const CAFFE_SCHEMA: CaffeSchema = {
  messages: {
    BlobShape: {
      dim: { no: 1, type: 'int64', label: 'repeated', packed: true },
    },
    BlobProto: {
      shape: { no: 7, type: 'message', label: 'optional', messageName: 'BlobShape' },
      data: { no: 5, type: 'float', label: 'repeated', packed: true },
      diff: { no: 6, type: 'float', label: 'repeated', packed: true },
      double_data: { no: 8, type: 'double', label: 'repeated', packed: true },
      double_diff: { no: 9, type: 'double', label: 'repeated', packed: true },
      num: { no: 1, type: 'int32', label: 'optional', default: 0 },
      channels: { no: 2, type: 'int32', label: 'optional', default: 0 },
      height: { no: 3, type: 'int32', label: 'optional', default: 0 },
      width: { no: 4, type: 'int32', label: 'optional', default: 0 },
    },
    BlobProtoVector: {
      blobs: { no: 1, type: 'message', label: 'repeated', messageName: 'BlobProto' },
    },
    NetParameter: {
      name: { no: 1, type: 'string', label: 'optional' },
      input: { no: 3, type: 'string', label: 'repeated' },
      input_shape: { no: 8, type: 'message', label: 'repeated', messageName: 'BlobShape' },
      input_dim: { no: 4, type: 'int32', label: 'repeated' },
      force_backward: { no: 5, type: 'bool', label: 'optional', default: false },
      state: { no: 6, type: 'message', label: 'optional', messageName: 'NetState' },
      debug_info: { no: 7, type: 'bool', label: 'optional', default: false },
      layer: { no: 100, type: 'message', label: 'repeated', messageName: 'LayerParameter' },
      layers: { no: 2, type: 'message', label: 'repeated', messageName: 'V1LayerParameter' },
    },
    NetState: {
      phase: { no: 1, type: 'enum', label: 'optional', enumName: 'Phase', default: 'TEST' },
      level: { no: 2, type: 'int32', label: 'optional', default: 0 },
      stage: { no: 3, type: 'string', label: 'repeated' },
    },
    NetStateRule: {
      phase: { no: 1, type: 'enum', label: 'optional', enumName: 'Phase' },
      min_level: { no: 2, type: 'int32', label: 'optional' },
      max_level: { no: 3, type: 'int32', label: 'optional' },
      stage: { no: 4, type: 'string', label: 'repeated' },
      not_stage: { no: 5, type: 'string', label: 'repeated' },
    },
    ParamSpec: {
      name: { no: 1, type: 'string', label: 'optional' },
      share_mode: { no: 2, type: 'enum', label: 'optional', enumName: 'ParamSpec.DimCheckMode' },
      lr_mult: { no: 3, type: 'float', label: 'optional', default: 1 },
      decay_mult: { no: 4, type: 'float', label: 'optional', default: 1 },
    },
    LayerParameter: {
      name: { no: 1, type: 'string', label: 'optional' },
      type: { no: 2, type: 'string', label: 'optional' },
      bottom: { no: 3, type: 'string', label: 'repeated' },
      top: { no: 4, type: 'string', label: 'repeated' },
      phase: { no: 10, type: 'enum', label: 'optional', enumName: 'Phase' },
      loss_weight: { no: 5, type: 'float', label: 'repeated' },
      param: { no: 6, type: 'message', label: 'repeated', messageName: 'ParamSpec' },
      blobs: { no: 7, type: 'message', label: 'repeated', messageName: 'BlobProto' },
      propagate_down: { no: 11, type: 'bool', label: 'repeated' },
      include: { no: 8, type: 'message', label: 'repeated', messageName: 'NetStateRule' },
      exclude: { no: 9, type: 'message', label: 'repeated', messageName: 'NetStateRule' },
      transform_param: { no: 100, type: 'message', label: 'optional', messageName: 'TransformationParameter' },
      loss_param: { no: 101, type: 'message', label: 'optional', messageName: 'LossParameter' },
      accuracy_param: { no: 102, type: 'message', label: 'optional', messageName: 'AccuracyParameter' },
      batch_norm_param: { no: 139, type: 'message', label: 'optional', messageName: 'BatchNormParameter' },
      bias_param: { no: 141, type: 'message', label: 'optional', messageName: 'BiasParameter' },
      concat_param: { no: 104, type: 'message', label: 'optional', messageName: 'ConcatParameter' },
      contrastive_loss_param: { no: 105, type: 'message', label: 'optional', messageName: 'ContrastiveLossParameter' },
      convolution_param: { no: 106, type: 'message', label: 'optional', messageName: 'ConvolutionParameter' },
      data_param: { no: 107, type: 'message', label: 'optional', messageName: 'DataParameter' },
      dropout_param: { no: 108, type: 'message', label: 'optional', messageName: 'DropoutParameter' },
      dummy_data_param: { no: 109, type: 'message', label: 'optional', messageName: 'DummyDataParameter' },
      eltwise_param: { no: 110, type: 'message', label: 'optional', messageName: 'EltwiseParameter' },
      elu_param: { no: 140, type: 'message', label: 'optional', messageName: 'ELUParameter' },
      exp_param: { no: 111, type: 'message', label: 'optional', messageName: 'ExpParameter' },
      flatten_param: { no: 135, type: 'message', label: 'optional', messageName: 'FlattenParameter' },
      hdf5_data_param: { no: 112, type: 'message', label: 'optional', messageName: 'HDF5DataParameter' },
      hdf5_output_param: { no: 113, type: 'message', label: 'optional', messageName: 'HDF5OutputParameter' },
      hinge_loss_param: { no: 114, type: 'message', label: 'optional', messageName: 'HingeLossParameter' },
      image_data_param: { no: 115, type: 'message', label: 'optional', messageName: 'ImageDataParameter' },
      infogain_loss_param: { no: 116, type: 'message', label: 'optional', messageName: 'InfogainLossParameter' },
      inner_product_param: { no: 117, type: 'message', label: 'optional', messageName: 'InnerProductParameter' },
      input_param: { no: 143, type: 'message', label: 'optional', messageName: 'InputParameter' },
      log_param: { no: 134, type: 'message', label: 'optional', messageName: 'LogParameter' },
      lrn_param: { no: 118, type: 'message', label: 'optional', messageName: 'LRNParameter' },
      memory_data_param: { no: 119, type: 'message', label: 'optional', messageName: 'MemoryDataParameter' },
      pooling_param: { no: 121, type: 'message', label: 'optional', messageName: 'PoolingParameter' },
      power_param: { no: 122, type: 'message', label: 'optional', messageName: 'PowerParameter' },
      prelu_param: { no: 131, type: 'message', label: 'optional', messageName: 'PReLUParameter' },
      python_param: { no: 130, type: 'message', label: 'optional', messageName: 'PythonParameter' },
      relu_param: { no: 123, type: 'message', label: 'optional', messageName: 'ReLUParameter' },
      reshape_param: { no: 133, type: 'message', label: 'optional', messageName: 'ReshapeParameter' },
      scale_param: { no: 142, type: 'message', label: 'optional', messageName: 'ScaleParameter' },
      sigmoid_param: { no: 124, type: 'message', label: 'optional', messageName: 'SigmoidParameter' },
      softmax_param: { no: 125, type: 'message', label: 'optional', messageName: 'SoftmaxParameter' },
      slice_param: { no: 126, type: 'message', label: 'optional', messageName: 'SliceParameter' },
      tanh_param: { no: 127, type: 'message', label: 'optional', messageName: 'TanHParameter' },
      threshold_param: { no: 128, type: 'message', label: 'optional', messageName: 'ThresholdParameter' },
      window_data_param: { no: 129, type: 'message', label: 'optional', messageName: 'WindowDataParameter' },
    },
    TransformationParameter: {
      scale: { no: 1, type: 'float', label: 'optional', default: 1 },
      mirror: { no: 2, type: 'bool', label: 'optional', default: false },
      crop_size: { no: 3, type: 'uint32', label: 'optional', default: 0 },
      mean_file: { no: 4, type: 'string', label: 'optional' },
      mean_value: { no: 5, type: 'float', label: 'repeated' },
      force_color: { no: 6, type: 'bool', label: 'optional', default: false },
      force_gray: { no: 7, type: 'bool', label: 'optional', default: false },
    },
    DataParameter: {
      source: { no: 1, type: 'string', label: 'optional' },
      batch_size: { no: 4, type: 'uint32', label: 'optional' },
      rand_skip: { no: 7, type: 'uint32', label: 'optional', default: 0 },
      backend: { no: 8, type: 'enum', label: 'optional', enumName: 'DataParameter.DB', default: 'LEVELDB' },
      scale: { no: 2, type: 'float', label: 'optional', default: 1 },
      mean_file: { no: 3, type: 'string', label: 'optional' },
      crop_size: { no: 5, type: 'uint32', label: 'optional', default: 0 },
      mirror: { no: 6, type: 'bool', label: 'optional', default: false },
      force_encoded_color: { no: 9, type: 'bool', label: 'optional', default: false },
      prefetch: { no: 10, type: 'uint32', label: 'optional', default: 4 },
    },
    HDF5DataParameter: {
      source: { no: 1, type: 'string', label: 'optional' },
      batch_size: { no: 2, type: 'uint32', label: 'optional' },
      shuffle: { no: 3, type: 'bool', label: 'optional', default: false },
    },
    HDF5OutputParameter: {
      file_name: { no: 1, type: 'string', label: 'optional' },
    },
    ImageDataParameter: {
      source: { no: 1, type: 'string', label: 'optional' },
      batch_size: { no: 4, type: 'uint32', label: 'optional', default: 1 },
      rand_skip: { no: 7, type: 'uint32', label: 'optional', default: 0 },
      shuffle: { no: 8, type: 'bool', label: 'optional', default: false },
      new_height: { no: 9, type: 'uint32', label: 'optional', default: 0 },
      new_width: { no: 10, type: 'uint32', label: 'optional', default: 0 },
      is_color: { no: 11, type: 'bool', label: 'optional', default: true },
      scale: { no: 2, type: 'float', label: 'optional', default: 1 },
      mean_file: { no: 3, type: 'string', label: 'optional' },
      crop_size: { no: 5, type: 'uint32', label: 'optional', default: 0 },
      mirror: { no: 6, type: 'bool', label: 'optional', default: false },
      root_folder: { no: 12, type: 'string', label: 'optional', default: '' },
    },
    MemoryDataParameter: {
      batch_size: { no: 1, type: 'uint32', label: 'optional' },
      channels: { no: 2, type: 'uint32', label: 'optional' },
      height: { no: 3, type: 'uint32', label: 'optional' },
      width: { no: 4, type: 'uint32', label: 'optional' },
    },
    DummyDataParameter: {
      data_filler: { no: 1, type: 'message', label: 'repeated', messageName: 'FillerParameter' },
      shape: { no: 6, type: 'message', label: 'repeated', messageName: 'BlobShape' },
      num: { no: 2, type: 'uint32', label: 'repeated' },
      channels: { no: 3, type: 'uint32', label: 'repeated' },
      height: { no: 4, type: 'uint32', label: 'repeated' },
      width: { no: 5, type: 'uint32', label: 'repeated' },
    },
    WindowDataParameter: {
      source: { no: 1, type: 'string', label: 'optional' },
      scale: { no: 2, type: 'float', label: 'optional', default: 1 },
      mean_file: { no: 3, type: 'string', label: 'optional' },
      batch_size: { no: 4, type: 'uint32', label: 'optional' },
      crop_size: { no: 5, type: 'uint32', label: 'optional', default: 0 },
      mirror: { no: 6, type: 'bool', label: 'optional', default: false },
      fg_threshold: { no: 7, type: 'float', label: 'optional', default: 0.5 },
      bg_threshold: { no: 8, type: 'float', label: 'optional', default: 0.5 },
      fg_fraction: { no: 9, type: 'float', label: 'optional', default: 0.25 },
      context_pad: { no: 10, type: 'uint32', label: 'optional', default: 0 },
      crop_mode: { no: 11, type: 'string', label: 'optional', default: 'warp' },
      cache_images: { no: 12, type: 'bool', label: 'optional', default: false },
      root_folder: { no: 13, type: 'string', label: 'optional', default: '' },
    },
    InputParameter: {
      shape: { no: 1, type: 'message', label: 'repeated', messageName: 'BlobShape' },
    },
    PythonParameter: {
      module: { no: 1, type: 'string', label: 'optional' },
      layer: { no: 2, type: 'string', label: 'optional' },
      param_str: { no: 3, type: 'string', label: 'optional', default: '' },
      share_in_parallel: { no: 4, type: 'bool', label: 'optional', default: false },
    },
    LossParameter: {
      ignore_label: { no: 1, type: 'int32', label: 'optional' },
      normalization: { no: 3, type: 'enum', label: 'optional', enumName: 'LossParameter.NormalizationMode', default: 'VALID' },
      normalize: { no: 2, type: 'bool', label: 'optional' },
    },
    AccuracyParameter: {
      top_k: { no: 1, type: 'uint32', label: 'optional', default: 1 },
      axis: { no: 2, type: 'int32', label: 'optional', default: 1 },
      ignore_label: { no: 3, type: 'int32', label: 'optional' },
    },
    ContrastiveLossParameter: {
      margin: { no: 1, type: 'float', label: 'optional', default: 1 },
      legacy_version: { no: 2, type: 'bool', label: 'optional', default: false },
    },
    HingeLossParameter: {
      norm: { no: 1, type: 'enum', label: 'optional', enumName: 'HingeLossParameter.Norm', default: 'L1' },
    },
    InfogainLossParameter: {
      source: { no: 1, type: 'string', label: 'optional' },
      axis: { no: 2, type: 'int32', label: 'optional', default: 1 },
    },
    FillerParameter: {
      type: { no: 1, type: 'string', label: 'optional', default: 'constant' },
      value: { no: 2, type: 'float', label: 'optional', default: 0 },
      min: { no: 3, type: 'float', label: 'optional', default: 0 },
      max: { no: 4, type: 'float', label: 'optional', default: 1 },
      mean: { no: 5, type: 'float', label: 'optional', default: 0 },
      std: { no: 6, type: 'float', label: 'optional', default: 1 },
      sparse: { no: 7, type: 'int32', label: 'optional', default: -1 },
      variance_norm: { no: 8, type: 'enum', label: 'optional', enumName: 'FillerParameter.VarianceNorm', default: 'FAN_IN' },
    },
    ConvolutionParameter: {
      num_output: { no: 1, type: 'uint32', label: 'optional' },
      bias_term: { no: 2, type: 'bool', label: 'optional', default: true },
      pad: { no: 3, type: 'uint32', label: 'repeated' },
      kernel_size: { no: 4, type: 'uint32', label: 'repeated' },
      stride: { no: 6, type: 'uint32', label: 'repeated' },
      dilation: { no: 18, type: 'uint32', label: 'repeated' },
      pad_h: { no: 9, type: 'uint32', label: 'optional', default: 0 },
      pad_w: { no: 10, type: 'uint32', label: 'optional', default: 0 },
      kernel_h: { no: 11, type: 'uint32', label: 'optional' },
      kernel_w: { no: 12, type: 'uint32', label: 'optional' },
      stride_h: { no: 13, type: 'uint32', label: 'optional' },
      stride_w: { no: 14, type: 'uint32', label: 'optional' },
      group: { no: 5, type: 'uint32', label: 'optional', default: 1 },
      weight_filler: { no: 7, type: 'message', label: 'optional', messageName: 'FillerParameter' },
      bias_filler: { no: 8, type: 'message', label: 'optional', messageName: 'FillerParameter' },
      engine: { no: 15, type: 'enum', label: 'optional', enumName: 'ConvolutionParameter.Engine', default: 'DEFAULT' },
      axis: { no: 16, type: 'int32', label: 'optional', default: 1 },
      force_nd_im2col: { no: 17, type: 'bool', label: 'optional', default: false },
    },
    InnerProductParameter: {
      num_output: { no: 1, type: 'uint32', label: 'optional' },
      bias_term: { no: 2, type: 'bool', label: 'optional', default: true },
      weight_filler: { no: 3, type: 'message', label: 'optional', messageName: 'FillerParameter' },
      bias_filler: { no: 4, type: 'message', label: 'optional', messageName: 'FillerParameter' },
      axis: { no: 5, type: 'int32', label: 'optional', default: 1 },
      transpose: { no: 6, type: 'bool', label: 'optional', default: false },
    },
    PoolingParameter: {
      pool: { no: 1, type: 'enum', label: 'optional', enumName: 'PoolingParameter.PoolMethod', default: 'MAX' },
      pad: { no: 4, type: 'uint32', label: 'optional', default: 0 },
      pad_h: { no: 9, type: 'uint32', label: 'optional', default: 0 },
      pad_w: { no: 10, type: 'uint32', label: 'optional', default: 0 },
      kernel_size: { no: 2, type: 'uint32', label: 'optional' },
      kernel_h: { no: 5, type: 'uint32', label: 'optional' },
      kernel_w: { no: 6, type: 'uint32', label: 'optional' },
      stride: { no: 3, type: 'uint32', label: 'optional', default: 1 },
      stride_h: { no: 7, type: 'uint32', label: 'optional' },
      stride_w: { no: 8, type: 'uint32', label: 'optional' },
      engine: { no: 11, type: 'enum', label: 'optional', enumName: 'PoolingParameter.Engine', default: 'DEFAULT' },
      global_pooling: { no: 12, type: 'bool', label: 'optional', default: false },
      round_mode: { no: 13, type: 'enum', label: 'optional', enumName: 'PoolingParameter.RoundMode', default: 'CEIL' },
    },
    ReLUParameter: {
      negative_slope: { no: 1, type: 'float', label: 'optional', default: 0 },
      engine: { no: 2, type: 'enum', label: 'optional', enumName: 'ReLUParameter.Engine', default: 'DEFAULT' },
    },
    TanHParameter: {
      engine: { no: 1, type: 'enum', label: 'optional', enumName: 'TanHParameter.Engine', default: 'DEFAULT' },
    },
    SigmoidParameter: {
      engine: { no: 1, type: 'enum', label: 'optional', enumName: 'SigmoidParameter.Engine', default: 'DEFAULT' },
    },
    PReLUParameter: {
      filler: { no: 1, type: 'message', label: 'optional', messageName: 'FillerParameter' },
      channel_shared: { no: 2, type: 'bool', label: 'optional', default: false },
    },
    ELUParameter: {
      alpha: { no: 1, type: 'float', label: 'optional', default: 1 },
    },
    PowerParameter: {
      power: { no: 1, type: 'float', label: 'optional', default: 1 },
      scale: { no: 2, type: 'float', label: 'optional', default: 1 },
      shift: { no: 3, type: 'float', label: 'optional', default: 0 },
    },
    ExpParameter: {
      base: { no: 1, type: 'float', label: 'optional', default: -1 },
      scale: { no: 2, type: 'float', label: 'optional', default: 1 },
      shift: { no: 3, type: 'float', label: 'optional', default: 0 },
    },
    LogParameter: {
      base: { no: 1, type: 'float', label: 'optional', default: -1 },
      scale: { no: 2, type: 'float', label: 'optional', default: 1 },
      shift: { no: 3, type: 'float', label: 'optional', default: 0 },
    },
    SoftmaxParameter: {
      engine: { no: 1, type: 'enum', label: 'optional', enumName: 'SoftmaxParameter.Engine', default: 'DEFAULT' },
      axis: { no: 2, type: 'int32', label: 'optional', default: 1 },
    },
    LRNParameter: {
      local_size: { no: 1, type: 'uint32', label: 'optional', default: 5 },
      alpha: { no: 2, type: 'float', label: 'optional', default: 1 },
      beta: { no: 3, type: 'float', label: 'optional', default: 0.75 },
      norm_region: { no: 4, type: 'enum', label: 'optional', enumName: 'LRNParameter.NormRegion', default: 'ACROSS_CHANNELS' },
      k: { no: 5, type: 'float', label: 'optional', default: 1 },
      engine: { no: 6, type: 'enum', label: 'optional', enumName: 'LRNParameter.Engine', default: 'DEFAULT' },
    },
    ConcatParameter: {
      axis: { no: 2, type: 'int32', label: 'optional', default: 1 },
      concat_dim: { no: 1, type: 'uint32', label: 'optional', default: 1 },
    },
    SliceParameter: {
      axis: { no: 3, type: 'int32', label: 'optional', default: 1 },
      slice_point: { no: 2, type: 'uint32', label: 'repeated' },
      slice_dim: { no: 1, type: 'uint32', label: 'optional', default: 1 },
    },
    EltwiseParameter: {
      operation: { no: 1, type: 'enum', label: 'optional', enumName: 'EltwiseParameter.EltwiseOp', default: 'SUM' },
      coeff: { no: 2, type: 'float', label: 'repeated' },
      stable_prod_grad: { no: 3, type: 'bool', label: 'optional', default: true },
    },
    FlattenParameter: {
      axis: { no: 1, type: 'int32', label: 'optional', default: 1 },
      end_axis: { no: 2, type: 'int32', label: 'optional', default: -1 },
    },
    ReshapeParameter: {
      shape: { no: 1, type: 'message', label: 'optional', messageName: 'BlobShape' },
      axis: { no: 2, type: 'int32', label: 'optional', default: 0 },
      num_axes: { no: 3, type: 'int32', label: 'optional', default: -1 },
    },
    BatchNormParameter: {
      use_global_stats: { no: 1, type: 'bool', label: 'optional' },
      moving_average_fraction: { no: 2, type: 'float', label: 'optional', default: 0.999 },
      eps: { no: 3, type: 'float', label: 'optional', default: 1e-5 },
    },
    ScaleParameter: {
      axis: { no: 1, type: 'int32', label: 'optional', default: 1 },
      num_axes: { no: 2, type: 'int32', label: 'optional', default: 1 },
      filler: { no: 3, type: 'message', label: 'optional', messageName: 'FillerParameter' },
      bias_term: { no: 4, type: 'bool', label: 'optional', default: false },
      bias_filler: { no: 5, type: 'message', label: 'optional', messageName: 'FillerParameter' },
    },
    BiasParameter: {
      axis: { no: 1, type: 'int32', label: 'optional', default: 1 },
      num_axes: { no: 2, type: 'int32', label: 'optional', default: 1 },
      filler: { no: 3, type: 'message', label: 'optional', messageName: 'FillerParameter' },
    },
    DropoutParameter: {
      dropout_ratio: { no: 1, type: 'float', label: 'optional', default: 0.5 },
    },
    ThresholdParameter: {
      threshold: { no: 1, type: 'float', label: 'optional', default: 0 },
    },
    V1LayerParameter: {
      bottom: { no: 2, type: 'string', label: 'repeated' },
      top: { no: 3, type: 'string', label: 'repeated' },
      name: { no: 4, type: 'string', label: 'optional' },
      include: { no: 32, type: 'message', label: 'repeated', messageName: 'NetStateRule' },
      exclude: { no: 33, type: 'message', label: 'repeated', messageName: 'NetStateRule' },
      type: { no: 5, type: 'enum', label: 'optional', enumName: 'V1LayerParameter.LayerType' },
      blobs: { no: 6, type: 'message', label: 'repeated', messageName: 'BlobProto' },
      param: { no: 1001, type: 'string', label: 'repeated' },
      blob_share_mode: { no: 1002, type: 'enum', label: 'repeated', enumName: 'V1LayerParameter.DimCheckMode' },
      blobs_lr: { no: 7, type: 'float', label: 'repeated' },
      weight_decay: { no: 8, type: 'float', label: 'repeated' },
      loss_weight: { no: 35, type: 'float', label: 'repeated' },
      accuracy_param: { no: 27, type: 'message', label: 'optional', messageName: 'AccuracyParameter' },
      concat_param: { no: 9, type: 'message', label: 'optional', messageName: 'ConcatParameter' },
      contrastive_loss_param: { no: 40, type: 'message', label: 'optional', messageName: 'ContrastiveLossParameter' },
      convolution_param: { no: 10, type: 'message', label: 'optional', messageName: 'ConvolutionParameter' },
      data_param: { no: 11, type: 'message', label: 'optional', messageName: 'DataParameter' },
      dropout_param: { no: 12, type: 'message', label: 'optional', messageName: 'DropoutParameter' },
      dummy_data_param: { no: 26, type: 'message', label: 'optional', messageName: 'DummyDataParameter' },
      eltwise_param: { no: 24, type: 'message', label: 'optional', messageName: 'EltwiseParameter' },
      exp_param: { no: 41, type: 'message', label: 'optional', messageName: 'ExpParameter' },
      hdf5_data_param: { no: 13, type: 'message', label: 'optional', messageName: 'HDF5DataParameter' },
      hdf5_output_param: { no: 14, type: 'message', label: 'optional', messageName: 'HDF5OutputParameter' },
      hinge_loss_param: { no: 29, type: 'message', label: 'optional', messageName: 'HingeLossParameter' },
      image_data_param: { no: 15, type: 'message', label: 'optional', messageName: 'ImageDataParameter' },
      infogain_loss_param: { no: 16, type: 'message', label: 'optional', messageName: 'InfogainLossParameter' },
      inner_product_param: { no: 17, type: 'message', label: 'optional', messageName: 'InnerProductParameter' },
      lrn_param: { no: 18, type: 'message', label: 'optional', messageName: 'LRNParameter' },
      memory_data_param: { no: 22, type: 'message', label: 'optional', messageName: 'MemoryDataParameter' },
      pooling_param: { no: 19, type: 'message', label: 'optional', messageName: 'PoolingParameter' },
      power_param: { no: 21, type: 'message', label: 'optional', messageName: 'PowerParameter' },
      relu_param: { no: 30, type: 'message', label: 'optional', messageName: 'ReLUParameter' },
      sigmoid_param: { no: 38, type: 'message', label: 'optional', messageName: 'SigmoidParameter' },
      softmax_param: { no: 39, type: 'message', label: 'optional', messageName: 'SoftmaxParameter' },
      slice_param: { no: 31, type: 'message', label: 'optional', messageName: 'SliceParameter' },
      tanh_param: { no: 37, type: 'message', label: 'optional', messageName: 'TanHParameter' },
      threshold_param: { no: 25, type: 'message', label: 'optional', messageName: 'ThresholdParameter' },
      window_data_param: { no: 20, type: 'message', label: 'optional', messageName: 'WindowDataParameter' },
      transform_param: { no: 36, type: 'message', label: 'optional', messageName: 'TransformationParameter' },
      loss_param: { no: 42, type: 'message', label: 'optional', messageName: 'LossParameter' },
    },
    SolverParameter: {
      net: { no: 24, type: 'string', label: 'optional' },
      net_param: { no: 25, type: 'message', label: 'optional', messageName: 'NetParameter' },
      train_net: { no: 1, type: 'string', label: 'optional' },
      test_net: { no: 2, type: 'string', label: 'repeated' },
      train_net_param: { no: 21, type: 'message', label: 'optional', messageName: 'NetParameter' },
      test_net_param: { no: 22, type: 'message', label: 'repeated', messageName: 'NetParameter' },
      train_state: { no: 26, type: 'message', label: 'optional', messageName: 'NetState' },
      test_state: { no: 27, type: 'message', label: 'repeated', messageName: 'NetState' },
      test_iter: { no: 3, type: 'int32', label: 'repeated' },
      test_interval: { no: 4, type: 'int32', label: 'optional', default: 0 },
      test_compute_loss: { no: 19, type: 'bool', label: 'optional', default: false },
      test_initialization: { no: 32, type: 'bool', label: 'optional', default: true },
      base_lr: { no: 5, type: 'float', label: 'optional' },
      display: { no: 6, type: 'int32', label: 'optional' },
      average_loss: { no: 33, type: 'int32', label: 'optional', default: 1 },
      max_iter: { no: 7, type: 'int32', label: 'optional' },
      iter_size: { no: 36, type: 'int32', label: 'optional', default: 1 },
      lr_policy: { no: 8, type: 'string', label: 'optional' },
      gamma: { no: 9, type: 'float', label: 'optional' },
      power: { no: 10, type: 'float', label: 'optional' },
      momentum: { no: 11, type: 'float', label: 'optional' },
      weight_decay: { no: 12, type: 'float', label: 'optional' },
      regularization_type: { no: 29, type: 'string', label: 'optional', default: 'L2' },
      stepsize: { no: 13, type: 'int32', label: 'optional' },
      stepvalue: { no: 34, type: 'int32', label: 'repeated' },
      clip_gradients: { no: 35, type: 'float', label: 'optional', default: -1 },
      snapshot: { no: 14, type: 'int32', label: 'optional', default: 0 },
      snapshot_prefix: { no: 15, type: 'string', label: 'optional' },
      snapshot_diff: { no: 16, type: 'bool', label: 'optional', default: false },
      snapshot_format: { no: 37, type: 'enum', label: 'optional', enumName: 'SolverParameter.SnapshotFormat', default: 'BINARYPROTO' },
      solver_mode: { no: 17, type: 'enum', label: 'optional', enumName: 'SolverParameter.SolverMode', default: 'GPU' },
      device_id: { no: 18, type: 'int32', label: 'optional', default: 0 },
      random_seed: { no: 20, type: 'int64', label: 'optional', default: -1 },
      type: { no: 40, type: 'string', label: 'optional', default: 'SGD' },
      delta: { no: 31, type: 'float', label: 'optional', default: 1e-8 },
      momentum2: { no: 39, type: 'float', label: 'optional', default: 0.999 },
      rms_decay: { no: 38, type: 'float', label: 'optional', default: 0.99 },
      debug_info: { no: 23, type: 'bool', label: 'optional', default: false },
      snapshot_after_train: { no: 28, type: 'bool', label: 'optional', default: true },
      solver_type: { no: 30, type: 'enum', label: 'optional', enumName: 'SolverParameter.SolverType', default: 'SGD' },
      layer_wise_reduce: { no: 41, type: 'bool', label: 'optional', default: true },
      weights: { no: 42, type: 'string', label: 'repeated' },
    },
  },
  enums: {
    Phase: { TRAIN: 0, TEST: 1 },
    'ParamSpec.DimCheckMode': { STRICT: 0, PERMISSIVE: 1 },
    'DataParameter.DB': { LEVELDB: 0, LMDB: 1 },
    'LossParameter.NormalizationMode': { FULL: 0, VALID: 1, BATCH_SIZE: 2, NONE: 3 },
    'HingeLossParameter.Norm': { L1: 1, L2: 2 },
    'FillerParameter.VarianceNorm': { FAN_IN: 0, FAN_OUT: 1, AVERAGE: 2 },
    'ConvolutionParameter.Engine': { DEFAULT: 0, CAFFE: 1, CUDNN: 2 },
    'PoolingParameter.PoolMethod': { MAX: 0, AVE: 1, STOCHASTIC: 2 },
    'PoolingParameter.Engine': { DEFAULT: 0, CAFFE: 1, CUDNN: 2 },
    'PoolingParameter.RoundMode': { CEIL: 0, FLOOR: 1 },
    'ReLUParameter.Engine': { DEFAULT: 0, CAFFE: 1, CUDNN: 2 },
    'TanHParameter.Engine': { DEFAULT: 0, CAFFE: 1, CUDNN: 2 },
    'SigmoidParameter.Engine': { DEFAULT: 0, CAFFE: 1, CUDNN: 2 },
    'SoftmaxParameter.Engine': { DEFAULT: 0, CAFFE: 1, CUDNN: 2 },
    'LRNParameter.NormRegion': { ACROSS_CHANNELS: 0, WITHIN_CHANNEL: 1 },
    'LRNParameter.Engine': { DEFAULT: 0, CAFFE: 1, CUDNN: 2 },
    'EltwiseParameter.EltwiseOp': { PROD: 0, SUM: 1, MAX: 2 },
    'V1LayerParameter.LayerType': {
      NONE: 0,
      ABSVAL: 35,
      ACCURACY: 1,
      ARGMAX: 30,
      BNLL: 2,
      CONCAT: 3,
      CONTRASTIVE_LOSS: 37,
      CONVOLUTION: 4,
      DATA: 5,
      DECONVOLUTION: 39,
      DROPOUT: 6,
      DUMMY_DATA: 32,
      EUCLIDEAN_LOSS: 7,
      ELTWISE: 25,
      EXP: 38,
      FLATTEN: 8,
      HDF5_DATA: 9,
      HDF5_OUTPUT: 10,
      HINGE_LOSS: 28,
      IM2COL: 11,
      IMAGE_DATA: 12,
      INFOGAIN_LOSS: 13,
      INNER_PRODUCT: 14,
      LRN: 15,
      MEMORY_DATA: 29,
      MULTINOMIAL_LOGISTIC_LOSS: 16,
      MVN: 34,
      POOLING: 17,
      POWER: 26,
      RELU: 18,
      SIGMOID: 19,
      SIGMOID_CROSS_ENTROPY_LOSS: 27,
      SILENCE: 36,
      SOFTMAX: 20,
      SOFTMAX_LOSS: 21,
      SPLIT: 22,
      SLICE: 33,
      TANH: 23,
      WINDOW_DATA: 24,
      THRESHOLD: 31,
    },
    'V1LayerParameter.DimCheckMode': { STRICT: 0, PERMISSIVE: 1 },
    'SolverParameter.SnapshotFormat': { HDF5: 0, BINARYPROTO: 1 },
    'SolverParameter.SolverMode': { CPU: 0, GPU: 1 },
    'SolverParameter.SolverType': { SGD: 0, NESTEROV: 1, ADAGRAD: 2, RMSPROP: 3, ADADELTA: 4, ADAM: 5 },
  },
};

/**
 * Fork extensions read from the text format only, by field name. Not in caffe.proto because
 * forks disagree on the number: `DropoutParameter.scale_train` (default true; false means the
 * training masks are not rescaled by 1/(1-p), i.e. non-inverted dropout) uses field number 2,
 * which Gal's fork uses for `sample_weights_test`. In a binary caffemodel, field 2 of
 * DropoutParameter is therefore handled by value (see wire.ts), never through this table.
 */
export const TEXT_EXTENSIONS: Readonly<Record<string, Readonly<Record<string, TextExtensionSpec>>>> = {
  DropoutParameter: {
    scale_train: { type: 'bool', label: 'optional', default: true },
  },
};

/** The spec of `fieldName` in `messageName`: a caffe.proto field or a {@link TEXT_EXTENSIONS} one; undefined when unknown. */
export function fieldSpec(messageName: string, fieldName: string): FieldSpec | TextExtensionSpec | undefined {
  const fields = CAFFE_SCHEMA.messages[messageName];
  if (fields === undefined) throw unknownMessage(messageName);
  return Object.hasOwn(fields, fieldName) ? fields[fieldName] : TEXT_EXTENSIONS[messageName]?.[fieldName];
}

const byNumberCache = new Map<string, ReadonlyMap<number, readonly [string, FieldSpec]>>();

/** The fields of `messageName` keyed by field number (cached), for the binary decoder. */
export function fieldsByNumber(messageName: string): ReadonlyMap<number, readonly [string, FieldSpec]> {
  let map = byNumberCache.get(messageName);
  if (map === undefined) {
    const fields = CAFFE_SCHEMA.messages[messageName];
    if (fields === undefined) throw unknownMessage(messageName);
    map = new Map(Object.entries(fields).map(([name, spec]) => [spec.no, [name, spec] as const]));
    byNumberCache.set(messageName, map);
  }
  return map;
}

/**
 * The value of `fieldName` in `msg` (a decoded `messageName`), or the schema's default when the
 * field is absent: the declared `[default = …]`, else proto2's implicit default (0, false, '',
 * the enum's first value). An absent repeated field reads as an empty array (Float32Array /
 * Float64Array for float / double), an absent message field as undefined.
 * Throws E_INTERNAL for a field the schema does not have (a programming error, not a user error).
 */
export function field(msg: Message | undefined, messageName: string, fieldName: string): Message[string] {
  const spec = fieldSpec(messageName, fieldName);
  if (spec === undefined) {
    throw new McuError('E_INTERNAL', `schema.ts: message ${messageName} has no field '${fieldName}' (see schema/caffe.proto)`);
  }
  const value = msg?.[fieldName];
  if (value !== undefined) return value;
  if (spec.label === 'repeated') {
    if (spec.type === 'float') return new Float32Array(0);
    if (spec.type === 'double') return new Float64Array(0);
    return [];
  }
  if (spec.default !== undefined) return spec.default;
  switch (spec.type) {
    case 'message':
      return undefined;
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'bytes':
      return new Uint8Array(0);
    case 'enum': {
      const values = CAFFE_SCHEMA.enums[spec.enumName ?? ''] ?? {};
      return Object.keys(values)[0];
    }
    default:
      return 0;
  }
}

function unknownMessage(messageName: string): McuError {
  return new McuError('E_INTERNAL', `schema.ts: no message ${messageName} in the Caffe schema (see schema/caffe.proto)`);
}
