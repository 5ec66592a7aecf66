/**
 * The contract between the reader (text format, binary caffemodel, V1 upgrade, phase rules:
 * schema.ts, text.ts, wire.ts, net.ts) and the translator into ONNX (shapes.ts, to-onnx.ts).
 *
 * Errors are McuError from @mcu/core: E_MODEL for a file that cannot be parsed or is
 * structurally invalid (a syntax error names `FILE:LINE:COLUMN`; a truncated caffemodel names
 * the byte offset), E_UNSUPPORTED for a valid net that uses what mcu cannot run (names the layer,
 * its type and the supported list), E_INPUT for a shape the user gave that does not fit.
 */

/** A scalar field value: numbers (all int and float types; int64 read as number when safe), bools, strings and enum names (as in caffe.proto), bytes. */
export type Scalar = number | boolean | string | Uint8Array;

/**
 * A decoded protobuf message, the same for text format and binary: fields by their
 * caffe.proto name; a singular field holds its value (absent: undefined — read defaults with
 * {@link field}), a repeated field an array (absent: undefined or []). Repeated `float` fields
 * (BlobProto.data, .diff) decode to Float32Array and repeated `double` to Float64Array; enum
 * fields hold the enum value's NAME ('MAX', 'TEST', 'INNER_PRODUCT'), in both formats.
 */
export interface Message {
  readonly [field: string]: Scalar | Message | Float32Array | Float64Array | readonly (Scalar | Message)[] | undefined;
}

/** One weight blob of a layer, as Caffe stores it (row-major, the shape Caffe uses in memory). */
export interface CaffeBlob {
  /** BlobShape.dim, or the legacy (num, channels, height, width) when the file has only those. */
  readonly shape: readonly number[];
  /** True when `shape` came from the legacy num/channels/height/width fields (Caffe compares such a blob with the target shape padded to 4 axes with leading 1s). */
  readonly legacy: boolean;
  /** float32 values (double_data is converted), length = product of shape. */
  readonly data: Float32Array;
}

/** A computing layer of the TEST-phase net, in the current (non-V1) form. */
export interface CaffeLayer {
  readonly name: string;
  /** The current type name ('InnerProduct', 'Convolution', …); V1 enum types are upgraded as Caffe's upgrade_proto does. */
  readonly type: string;
  readonly bottom: readonly string[];
  readonly top: readonly string[];
  /** The whole LayerParameter as decoded (read `convolution_param`, `dropout_param`, … from it), V1 parameters moved to their current names. */
  readonly param: Message;
  /** Weights: from the caffemodel (matched by layer name, as Caffe's CopyTrainedLayersFrom does), else blobs written in the prototxt itself; [] when none. */
  readonly blobs: readonly CaffeBlob[];
  /** 1-based line of the layer in the prototxt, for messages (absent for a net read from a caffemodel alone). */
  readonly line?: number;
}

/** A graph input: from `input:` + `input_dim:`/`input_shape`, an `Input` layer, or the top of a dropped data layer. */
export interface CaffeInput {
  readonly name: string;
  /**
   * Declared shape including the batch axis (axis 0; its declared size is only Caffe's batch
   * size, mcu runs any number of rows). `undefined` entries are unknown (a data layer whose
   * source is a file: HDF5Data, Data, ImageData …): the user must give them, or they are
   * taken from the weights where that is unambiguous (see shapes.ts).
   */
  readonly shape: readonly (number | undefined)[] | undefined;
  /** Where it was declared, for messages: 'input_dim', 'input_shape', "Input layer 'data'", "HDF5Data layer 'data'". */
  readonly from: string;
}

/** A layer that is not part of the inference graph, and why ("data layer: its top 'data' is a graph input", "loss layer", "phase TRAIN", "uses only the label 'label'"). */
export interface DroppedLayer {
  readonly name: string;
  readonly type: string;
  readonly why: string;
}

/** A Caffe net ready for translation: TEST phase, data and loss layers dropped, weights attached. */
export interface CaffeNet {
  readonly name: string;
  readonly inputs: readonly CaffeInput[];
  readonly layers: readonly CaffeLayer[];
  readonly dropped: readonly DroppedLayer[];
  /** 'present': a caffemodel was given (every layer that needs weights has them, checked in shapes.ts); 'missing': structure only. */
  readonly weights: 'present' | 'missing';
  /** Unknown text-format fields (e.g. Gal's `sample_weights_test`), layers of the caffemodel not in the net, upgrades done: one line each. */
  readonly warnings: readonly string[];
  /** File names as the user gave them, for messages. */
  readonly files: { readonly prototxt?: string; readonly caffemodel?: string };
}

/** What {@link readCaffe} takes: text of a prototxt and/or bytes of a caffemodel (at least one). */
export interface CaffeSource {
  /** The network definition, protobuf text format (a deploy or train_test prototxt). */
  readonly prototxt?: string;
  /** The binary NetParameter with the weights. Alone (no prototxt), its own layer definitions are the net. */
  readonly caffemodel?: Uint8Array;
  /** Names for messages (default 'prototxt' / 'caffemodel'). */
  readonly names?: { readonly prototxt?: string; readonly caffemodel?: string };
}

/** Options of the translation into ONNX. */
export interface CaffeToOnnxOptions {
  /**
   * Per-row shapes (without the batch axis) for inputs whose shape is unknown or to override the
   * declared one, e.g. `{ data: [1, 28, 28] }`. A given shape that contradicts the weights is E_INPUT.
   */
  readonly inputShapes?: Readonly<Record<string, readonly number[]>>;
  /** The symbolic name of the batch axis in the ONNX graph (default 'N'). */
  readonly batchDim?: string;
}

/** The translated model. */
export interface CaffeOnnx {
  /** A serialized ONNX ModelProto (opset 13): one Dropout node per Caffe Dropout layer, named after it. */
  readonly bytes: Uint8Array;
  /** Per input: name and per-row dims after resolution. */
  readonly inputs: readonly { readonly name: string; readonly dims: readonly number[] }[];
  /** Per output (the blobs no kept layer consumes): name and per-row dims. */
  readonly outputs: readonly { readonly name: string; readonly dims: readonly number[] }[];
  /** Per Dropout layer: name, rate, scaling ('inverted' as BVLC Caffe; 'none' for a fork's `scale_train: false`). */
  readonly sites: readonly { readonly name: string; readonly rate: number; readonly scaling: 'inverted' | 'none' }[];
  /** The net's warnings plus the translation's (one line each). */
  readonly warnings: readonly string[];
}
