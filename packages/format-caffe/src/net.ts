/**
 * A Caffe net (prototxt and/or caffemodel) → {@link CaffeNet}: the TEST-phase inference graph with
 * its inputs, weights attached by layer name, and the layers that are not part of inference
 * listed with the reason they were dropped.
 */
import { McuError } from '@mcu/core';
import { field } from './schema.js';
import { parseText, textPosition } from './text.js';
import type { CaffeBlob, CaffeInput, CaffeLayer, CaffeNet, CaffeSource, DroppedLayer, Message } from './types.js';
import { legacyInputs, upgradeLayers, type UpgradedLayer } from './upgrade.js';
import { checkDropoutField2, decodeBinary } from './wire.js';

/** Layer types whose tops are graph inputs (Python counts only without bottoms). */
const DATA_TYPES = new Set(['Input', 'Data', 'HDF5Data', 'ImageData', 'MemoryData', 'DummyData', 'WindowData']);
/** Loss layers: training only (SoftmaxWithLoss is replaced by a Softmax). */
const LOSS_TYPES = new Set([
  'SoftmaxWithLoss',
  'EuclideanLoss',
  'SigmoidCrossEntropyLoss',
  'HingeLoss',
  'InfogainLoss',
  'MultinomialLogisticLoss',
  'ContrastiveLoss',
]);

/** The state a TEST net is built in: Caffe's NetState for `Net(file, TEST)` (level 0, the file's own stages). */
interface NetState {
  readonly phase: string;
  readonly level: number;
  readonly stages: readonly string[];
}

/**
 * Read a Caffe net. With a prototxt, its layer definitions are the net and the caffemodel (if
 * any) only gives weights, matched by layer name as Caffe's CopyTrainedLayersFrom does (its
 * layers that are not in the net are listed in one warning). With a caffemodel alone, its own
 * layer definitions are the net. Either way:
 * - V1 `layers` are upgraded, legacy `input`/`input_dim`/`input_shape` become inputs;
 * - layers are filtered for the TEST phase with Caffe's include/exclude rule semantics (phase
 *   TEST, level 0, the file's `state.stage`s); a layer's own `phase:` field does not filter (in
 *   Caffe it only sets the mode the layer runs in; `phase: TRAIN` gets a warning); a data layer
 *   of another phase still declares its top when nothing in the TEST net does (a caffemodel
 *   saved during training holds the TRAIN net), with a warning;
 * - data layers become inputs (their first top; all tops of an Input layer) — shapes as declared:
 *   Input / MemoryData / DummyData give them, Data [batch, ?, crop, crop], ImageData
 *   [batch, 1|3, crop|new_height, crop|new_width], WindowData [batch, 3, crop, crop], HDF5Data and
 *   a Python data layer undefined (the rank of a file's blobs is not declared); unknown entries
 *   are undefined. Their other tops (labels) are dropped;
 * - loss, Accuracy, Silence and HDF5Output layers are dropped, except SoftmaxWithLoss, which
 *   becomes a Softmax over its first bottom as in a deploy net; any layer using a dropped blob is
 *   dropped too.
 * Throws E_USAGE with neither source, E_MODEL for malformed files, unnamed or duplicate layers,
 * include + exclude on one layer, or blobs whose value count does not match their shape.
 */
export function readCaffe(source: CaffeSource): CaffeNet {
  const protoFile = source.names?.prototxt ?? 'prototxt';
  const modelFile = source.names?.caffemodel ?? 'caffemodel';
  if (source.prototxt === undefined && source.caffemodel === undefined) {
    throw new McuError(
      'E_USAGE',
      'readCaffe: expected a prototxt and/or a caffemodel, got neither; give the net definition (deploy.prototxt), the weights (.caffemodel), or both',
    );
  }
  const warnings: string[] = [];
  let textNet: Message | undefined;
  let binNet: Message | undefined;
  if (source.prototxt !== undefined) {
    const r = parseText(source.prototxt, 'NetParameter', protoFile);
    textNet = r.message;
    warnings.push(...r.warnings);
  }
  if (source.caffemodel !== undefined) {
    const r = decodeBinary(source.caffemodel, 'NetParameter', modelFile, { deferDropoutCheck: true });
    binNet = r.message;
    warnings.push(...r.warnings);
  }
  const def = (textNet ?? binNet) as Message;
  const defFile = textNet !== undefined ? protoFile : modelFile;
  const up = upgradeLayers(def, defFile);
  warnings.push(...up.warnings);

  const fileStages = field(def.state as Message | undefined, 'NetState', 'stage') as readonly string[];
  const state: NetState = { phase: 'TEST', level: 0, stages: fileStages };
  const where = (l: UpgradedLayer): string => {
    const line = textNet !== undefined ? textPosition(l.source)?.line : undefined;
    return line === undefined ? defFile : `${defFile}:${line}`;
  };

  const inputs: CaffeInput[] = legacyInputs(def, defFile);
  const layers: CaffeLayer[] = [];
  const dropped: DroppedLayer[] = [];
  /** Blobs of dropped layers → how to name them in a "uses …" reason. */
  const droppedBlobs = new Map<string, string>();

  // Phase filtering (Caffe's Net::FilterNet), then names must be unique.
  const excluded = new Map<UpgradedLayer, string>();
  up.layers.forEach((l, i) => {
    const name = l.layer.name;
    const type = typeof l.layer.type === 'string' ? l.layer.type : '';
    if (typeof name !== 'string' || name === '') {
      throw new McuError(
        'E_MODEL',
        `${where(l)}: expected a name for layer ${i + 1} (${type || 'no type'}), got none; add name: "…" (mcu matches weights and names Dropout sites by layer name)`,
      );
    }
    if (type === '') throw new McuError('E_MODEL', `${where(l)}: expected a type for layer '${name}', got none; add type: "…"`);
    const why = phaseExclusion(l.layer, state, where(l));
    if (why !== undefined) excluded.set(l, why);
  });
  // A data layer of another phase still declares the input when no TEST-phase declaration exists
  // (a caffemodel saved during training holds the TRAIN net, whose data layer is TRAIN-only).
  const declared = new Set<string>(inputs.map((inp) => inp.name));
  for (const l of up.layers) if (!excluded.has(l) && isDataLayer(l.layer)) for (const t of topsOf(l.layer)) declared.add(t);
  const used = new Set<string>(up.layers.filter((l) => !excluded.has(l) && !isDataLayer(l.layer)).flatMap((l) => bottomsOf(l.layer)));
  for (const l of up.layers) {
    const first = topsOf(l.layer)[0];
    const why = excluded.get(l);
    if (why === undefined || !isDataLayer(l.layer) || first === undefined || declared.has(first) || !used.has(first)) continue;
    excluded.delete(l);
    topsOf(l.layer).forEach((t) => declared.add(t));
    warnings.push(
      `${where(l)}: data layer '${String(l.layer.name)}' (${why}) is the only declaration of '${first}'; its top is used as the graph input (a caffemodel saved during training holds the TRAIN net)`,
    );
  }
  const active = up.layers.filter((l) => !excluded.has(l));
  for (const l of up.layers) {
    const why = excluded.get(l);
    if (why !== undefined) dropped.push({ name: l.layer.name as string, type: l.layer.type as string, why });
  }
  const firstSeen = new Map<string, UpgradedLayer>();
  for (const l of active) {
    const name = l.layer.name as string;
    const prev = firstSeen.get(name);
    if (prev !== undefined) {
      throw new McuError(
        'E_MODEL',
        `${where(l)}: expected unique layer names in the TEST net, got a second layer '${name}' (the first is at ${where(prev)}); rename one (weights are matched by layer name)`,
      );
    }
    firstSeen.set(name, l);
  }

  const inputNames = new Map<string, string>(inputs.map((inp) => [inp.name, inp.from]));
  const addInput = (inp: CaffeInput, at: string): void => {
    const prev = inputNames.get(inp.name);
    if (prev !== undefined) {
      throw new McuError(
        'E_MODEL',
        `${at}: expected each graph input declared once, got '${inp.name}' from ${inp.from} and from ${prev}; keep one declaration`,
      );
    }
    inputNames.set(inp.name, inp.from);
    inputs.push(inp);
  };
  const kept: UpgradedLayer[] = [];
  const trainPhase: string[] = [];

  for (const l of active) {
    const p = l.layer;
    const name = p.name as string;
    const type = p.type as string;
    const bottoms = bottomsOf(p);
    const tops = topsOf(p);
    const dropTops = (why: (top: string) => string): void => tops.forEach((t) => droppedBlobs.set(t, why(t)));

    if (isDataLayer(p)) {
      if (tops.length === 0) throw new McuError('E_MODEL', `${where(l)}: expected a top for ${type} layer '${name}', got none; add top: "data"`);
      const from = `${type} layer '${name}'`;
      const shapes = dataShapes(p, type, tops.length, where(l));
      const asInputs = type === 'Input' ? tops : tops.slice(0, 1);
      asInputs.forEach((t, i) => addInput({ name: t, shape: shapes[i], from }, where(l)));
      tops.slice(asInputs.length).forEach((t) => droppedBlobs.set(t, `the label '${t}'`));
      dropped.push({
        name,
        type,
        why: `data layer: its top${asInputs.length > 1 ? 's' : ''} ${asInputs.map((t) => `'${t}'`).join(', ')} ${asInputs.length > 1 ? 'are graph inputs' : 'is a graph input'}`,
      });
      continue;
    }
    const usesDropped = bottoms.find((b) => droppedBlobs.has(b));
    if (type === 'SoftmaxWithLoss' && bottoms.length > 0 && !droppedBlobs.has(bottoms[0])) {
      if (tops.length === 0) throw new McuError('E_MODEL', `${where(l)}: expected a top for SoftmaxWithLoss layer '${name}', got none; add top: "loss"`);
      const softmax: Record<string, unknown> = { name, type: 'Softmax', bottom: [bottoms[0]], top: [tops[0]] };
      if (p.softmax_param !== undefined) softmax.softmax_param = p.softmax_param;
      warnings.push(`${where(l)}: loss layer '${name}' (SoftmaxWithLoss) → Softmax over '${bottoms[0]}' as in a deploy net`);
      kept.push({ layer: softmax as Message, source: l.source });
      tops.forEach((t) => droppedBlobs.delete(t));
      continue;
    }
    if (LOSS_TYPES.has(type)) {
      dropped.push({ name, type, why: 'loss layer (training only)' });
      dropTops((t) => `the loss '${t}'`);
      continue;
    }
    if (type === 'Accuracy' || type === 'Silence' || type === 'HDF5Output') {
      const why = {
        Accuracy: 'accuracy layer (evaluation only)',
        Silence: 'Silence layer (computes nothing)',
        HDF5Output: 'HDF5Output layer (writes blobs to a file)',
      }[type];
      dropped.push({ name, type, why });
      dropTops((t) => `'${t}', an output of the dropped layer '${name}'`);
      continue;
    }
    if (usesDropped !== undefined) {
      const origin = droppedBlobs.get(usesDropped) ?? `'${usesDropped}'`;
      dropped.push({ name, type, why: `uses ${origin}` });
      dropTops((t) => (t === usesDropped ? origin : `'${t}', computed from ${origin}`));
      continue;
    }
    tops.forEach((t) => droppedBlobs.delete(t));
    if (p.phase === 'TRAIN') {
      if (source.prototxt === undefined) trainPhase.push(name);
      else if (type === 'BatchNorm' && (p.batch_norm_param as Message | undefined)?.use_global_stats === undefined) {
        throw new McuError(
          'E_UNSUPPORTED',
          `${where(l)}: BatchNorm layer '${name}' sets phase: TRAIN without use_global_stats, so Caffe would normalise it over the batch (rows would mix); ` +
            'remove phase: TRAIN, or set batch_norm_param { use_global_stats: true }',
        );
      } else {
        warnings.push(
          `${where(l)}: layer '${name}' sets phase: TRAIN; mcu runs it as in the TEST phase (Dropout: a stochastic site either way; remove the field for ordinary test behaviour)`,
        );
      }
    }
    kept.push(l);
  }
  // A caffemodel alone is a training snapshot: Caffe records phase: TRAIN on every layer of it.
  if (trainPhase.length > 0) {
    warnings.push(
      `${modelFile}: a training snapshot: ${trainPhase.length} layer(s) record phase: TRAIN; mcu runs them as the TEST phase does (BatchNorm with its stored statistics, Dropout layers as Monte Carlo sites)`,
    );
  }

  // Weights.
  let modelLayers = new Map<string, Message>();
  if (binNet !== undefined) {
    const modelUp = binNet === def ? up : upgradeLayers(binNet, modelFile);
    if (binNet !== def) warnings.push(...modelUp.warnings);
    modelLayers = weightLayers(modelUp.layers, modelFile);
    const netNames = new Set(up.layers.map((l) => l.layer.name));
    const extra = [...modelLayers.keys()].filter((n) => !netNames.has(n));
    if (extra.length > 0) {
      const shown = extra
        .slice(0, 20)
        .map((n) => `'${n}'`)
        .join(', ');
      warnings.push(
        `${modelFile}: ${extra.length} caffemodel layer${extra.length === 1 ? '' : 's'} not in the net, ignored: ${shown}${extra.length > 20 ? `, … (${extra.length - 20} more)` : ''}`,
      );
    }
  }
  for (const l of kept) {
    const p = l.layer;
    const name = p.name as string;
    const fromModel = modelLayers.get(name);
    const modelBlobs = (fromModel?.blobs as readonly Message[] | undefined) ?? [];
    const useModel = modelBlobs.length > 0;
    const blobMsgs = useModel ? modelBlobs : ((p.blobs as readonly Message[] | undefined) ?? []);
    const blobFile = useModel ? modelFile : defFile;
    const blobs = blobMsgs.map((b, i) => toBlob(b, blobFile, name, i));
    if (textNet === undefined && p.type === 'Dropout') {
      const w = checkDropoutField2(p.dropout_param as Message | undefined, modelFile, name);
      if (w !== undefined) warnings.push(w);
    }
    const line = textNet !== undefined ? textPosition(l.source)?.line : undefined;
    const layer: CaffeLayer = {
      name,
      type: p.type as string,
      bottom: [...((p.bottom as readonly string[] | undefined) ?? [])],
      top: [...((p.top as readonly string[] | undefined) ?? [])],
      param: p,
      blobs,
      ...(line !== undefined ? { line } : {}),
    };
    layers.push(layer);
  }

  const name = typeof def.name === 'string' ? def.name : typeof binNet?.name === 'string' ? binNet.name : '';
  return {
    name,
    inputs,
    layers,
    dropped,
    weights: binNet !== undefined ? 'present' : 'missing',
    warnings,
    files: {
      ...(source.prototxt !== undefined ? { prototxt: protoFile } : {}),
      ...(source.caffemodel !== undefined ? { caffemodel: modelFile } : {}),
    },
  };
}

const bottomsOf = (p: Message): readonly string[] => (p.bottom as readonly string[] | undefined) ?? [];
const topsOf = (p: Message): readonly string[] => (p.top as readonly string[] | undefined) ?? [];

/** A layer whose tops are graph inputs: the data layer types, and a Python layer without bottoms. */
function isDataLayer(p: Message): boolean {
  return DATA_TYPES.has(p.type as string) || (p.type === 'Python' && bottomsOf(p).length === 0);
}

/**
 * Why a layer is not in the net for `state` (Caffe's FilterNet / StateMeetsRule), or undefined
 * when it is: with include rules it is kept iff one rule matches, with exclude rules dropped iff
 * one matches; both kinds on one layer → E_MODEL.
 */
function phaseExclusion(layer: Message, state: NetState, at: string): string | undefined {
  const include = (layer.include as readonly Message[] | undefined) ?? [];
  const exclude = (layer.exclude as readonly Message[] | undefined) ?? [];
  if (include.length > 0 && exclude.length > 0) {
    throw new McuError('E_MODEL', `${at}: expected include or exclude rules on layer '${String(layer.name)}', got both; specify one kind, as Caffe requires`);
  }
  if (include.length > 0) {
    if (include.some((r) => stateMeetsRule(state, r))) return undefined;
    return `not in the ${state.phase} phase: ${include.map((r) => `include { ${describeRule(r)} }`).join(' ')}`;
  }
  const hit = exclude.find((r) => stateMeetsRule(state, r));
  return hit === undefined ? undefined : `excluded from the ${state.phase} phase: exclude { ${describeRule(hit)} }`;
}

/** Caffe's Net::StateMeetsRule. */
function stateMeetsRule(state: NetState, rule: Message): boolean {
  if (rule.phase !== undefined && rule.phase !== state.phase) return false;
  if (typeof rule.min_level === 'number' && state.level < rule.min_level) return false;
  if (typeof rule.max_level === 'number' && state.level > rule.max_level) return false;
  for (const s of (rule.stage as readonly string[] | undefined) ?? []) if (!state.stages.includes(s)) return false;
  for (const s of (rule.not_stage as readonly string[] | undefined) ?? []) if (state.stages.includes(s)) return false;
  return true;
}

function describeRule(rule: Message): string {
  const parts: string[] = [];
  if (rule.phase !== undefined) parts.push(`phase: ${String(rule.phase)}`);
  if (rule.min_level !== undefined) parts.push(`min_level: ${String(rule.min_level)}`);
  if (rule.max_level !== undefined) parts.push(`max_level: ${String(rule.max_level)}`);
  for (const s of (rule.stage as readonly string[] | undefined) ?? []) parts.push(`stage: "${s}"`);
  for (const s of (rule.not_stage as readonly string[] | undefined) ?? []) parts.push(`not_stage: "${s}"`);
  return parts.join(' ');
}

type Shape = (number | undefined)[] | undefined;

/** Declared shapes of a data layer's tops (index i for top i; only Input has more than one). */
function dataShapes(p: Message, type: string, topCount: number, at: string): Shape[] {
  const pos = (v: unknown): number | undefined => (typeof v === 'number' && v > 0 ? v : undefined);
  const param = (key: string): Message | undefined => p[key] as Message | undefined;
  const crop = pos(param('transform_param')?.crop_size);
  switch (type) {
    case 'Input': {
      const shapes = (param('input_param')?.shape as readonly Message[] | undefined) ?? [];
      if (shapes.length > 1 && shapes.length !== topCount) {
        throw new McuError(
          'E_MODEL',
          `${at}: expected 1 or ${topCount} input_param shapes for Input layer '${String(p.name)}' (one per top), got ${shapes.length}; give one shape { dim: … } per top`,
        );
      }
      const dims = (m: Message): number[] => [...((m.dim as readonly number[] | undefined) ?? [])];
      return Array.from({ length: topCount }, (_, i) => (shapes.length === 0 ? undefined : dims(shapes[shapes.length === 1 ? 0 : i])));
    }
    case 'MemoryData': {
      const m = param('memory_data_param');
      return [[pos(m?.batch_size), pos(m?.channels), pos(m?.height), pos(m?.width)]];
    }
    case 'DummyData': {
      const m = param('dummy_data_param');
      const shapes = (m?.shape as readonly Message[] | undefined) ?? [];
      if (shapes.length > 0) return [[...((shapes[0].dim as readonly number[] | undefined) ?? [])]];
      const first = (k: string): number | undefined => pos(((m?.[k] as readonly number[] | undefined) ?? [])[0]);
      if (m === undefined || (m.num === undefined && m.channels === undefined)) return [undefined];
      return [[first('num'), first('channels'), first('height'), first('width')]];
    }
    case 'Data': {
      const d = param('data_param');
      const c = crop ?? pos(d?.crop_size);
      return [[pos(d?.batch_size), undefined, c, c]];
    }
    case 'ImageData': {
      const d = param('image_data_param');
      const c = crop ?? pos(d?.crop_size);
      const color = field(d, 'ImageDataParameter', 'is_color') as boolean;
      return [[pos(field(d, 'ImageDataParameter', 'batch_size')), color ? 3 : 1, c ?? pos(d?.new_height), c ?? pos(d?.new_width)]];
    }
    case 'WindowData': {
      const d = param('window_data_param');
      const c = crop ?? pos(d?.crop_size);
      return [[pos(d?.batch_size), 3, c, c]];
    }
    default:
      return [undefined];
  }
}

/** Caffemodel layers with blobs by name; one name twice with blobs → E_MODEL (which weights would be meant is unclear). */
function weightLayers(layers: readonly UpgradedLayer[], file: string): Map<string, Message> {
  const map = new Map<string, Message>();
  for (const { layer } of layers) {
    const name = typeof layer.name === 'string' ? layer.name : '';
    const prev = map.get(name);
    const hasBlobs = ((layer.blobs as readonly Message[] | undefined) ?? []).length > 0;
    if (prev !== undefined && hasBlobs && ((prev.blobs as readonly Message[] | undefined) ?? []).length > 0) {
      throw new McuError(
        'E_MODEL',
        `${file}: expected one set of weights per layer name, got two layers '${name}' with blobs; the caffemodel is ambiguous (re-save it from a net with unique layer names)`,
      );
    }
    if (prev === undefined || hasBlobs) map.set(name, layer);
  }
  return map;
}

/** BlobProto → CaffeBlob: BlobShape dims or the legacy 4-D ones; data or double_data; value count checked. */
export function toBlob(b: Message, file: string, layer: string, index: number): CaffeBlob {
  const shapeMsg = b.shape as Message | undefined;
  const legacy = shapeMsg === undefined;
  const shape = legacy
    ? (['num', 'channels', 'height', 'width'] as const).map((k) => field(b, 'BlobProto', k) as number)
    : [...((shapeMsg.dim as readonly number[] | undefined) ?? [])];
  const where = `blob ${index} of layer '${layer}'`;
  if (shape.some((d) => d < 0)) {
    throw new McuError('E_MODEL', `${file}: expected non-negative dimensions for ${where}, got [${shape.join(', ')}]; the file is corrupt`);
  }
  const doubles = field(b, 'BlobProto', 'double_data') as Float64Array;
  const data = doubles.length > 0 ? Float32Array.from(doubles) : (field(b, 'BlobProto', 'data') as Float32Array);
  const count = shape.reduce((a, d) => a * d, 1);
  if (data.length !== count) {
    throw new McuError(
      'E_MODEL',
      `${file}: expected ${count} values for ${where} (shape [${shape.join(', ')}]${legacy ? ', legacy num/channels/height/width' : ''}), got ${data.length} in ${doubles.length > 0 ? 'double_data' : 'data'}; the file is corrupt or was written by a different net`,
    );
  }
  return { shape, legacy, data };
}
