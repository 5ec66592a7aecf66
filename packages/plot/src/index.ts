/**
 * @mcu/plot — figures of MC dropout predictions (Gal & Ghahramani 2016, figures 2 and 4):
 * Vega-Lite specs, drawn by Vega as SVG and rasterised by resvg as PNG. Spec builders are
 * plain functions of plain data; rendering loads vega, vega-lite and resvg on first use.
 */
export { bandPlotSpec, bandHalfWidth, bandLabel, BAND_COUNT, type BandPlotData, type BandRow } from './band.js';
export { classSequenceSpec, topClasses, DEFAULT_TOP_K, MAX_SCATTER_POINTS, type ClassSequenceData } from './classes.js';
export { curvesSpec, type CurvesData, type CurveSeries } from './curves.js';
export {
  renderSvg,
  renderPng,
  compileSpec,
  svgMetadata,
  pngMetadata,
  pngSize,
  withSvgMetadata,
  withPngMetadata,
  METADATA_KEY,
  DEFAULT_PNG_SCALE,
  type RenderOptions,
  type PngOptions,
  type CompiledSpec,
} from './render.js';
export {
  collectSamples,
  softmaxRows,
  type CollectOptions,
  type McSamples,
  type McRegressionSamples,
  type McClassificationSamples,
  type McRunInfo,
} from './collect.js';
export {
  plotPrediction,
  predictionSpec,
  parseSavedPrediction,
  chooseOutput,
  checkPlotOptions,
  bandX,
  runLine,
  BAND_OPTIONS,
  CLASS_OPTIONS,
  type PlotInput,
  type PlotOptions,
  type PlotOptionName,
  type InputRows,
  type Figure,
  type FigureFormat,
  type PredictionFigure,
  type SavedPrediction,
  type SavedOutput,
  type SavedRegression,
  type SavedClassification,
} from './prediction.js';
export type { Numbers } from './validate.js';
