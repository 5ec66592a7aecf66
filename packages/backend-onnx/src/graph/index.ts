export { loadModelFile, inlineExternalData, hasExternalData } from './external.js';
export { prepareModel, SAMPLE_ROWS_DIM, type PrepareOptions, type PreparedModel } from './prepare.js';
export { inspectModel, type ModelInspection, type InspectedSite } from './inspect.js';
export { countFlops, type FlopCount, type LayerFlops } from './flops.js';
export { SITES_KEY, LAYOUT_KEY, type Layout } from './metadata.js';
export { WEIGHT_LAYER_OPS, type WeightLayerOp } from './sites.js';
