export { decodeModel, encodeModel, decodeTensor, encodeTensor, decodeMessage, encodeMessage } from './codec.js';
export { AttributeType, DataType, DataLocation, dataTypeName } from './enums.js';
export type * from './types.js';
export { sanitizeModel } from './sanitize.js';
