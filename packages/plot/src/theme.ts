/** What every figure shares: sizes, fonts, colours. */

export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Default plot area of a one-panel figure, in pixels (the PNG is this times its scale). */
export const DEFAULT_WIDTH = 640;
export const DEFAULT_HEIGHT = 360;

/**
 * The band shades, innermost (±½σ at scale 1) first: shades of blue, each shade a half
 * standard deviation (the paper's figure 2).
 */
export const BAND_COLORS = ['#6baed6', '#9ecae1', '#c6dbef', '#e3eef9'] as const;
export const MEAN_COLOR = '#08306b';
export const STANDARD_COLOR = '#d94801';
export const POINTS_COLOR = '#252525';
export const RULE_COLOR = '#525252';

/** One colour per class (top-k ranks) and per series: Tableau 10. */
export const CATEGORY_COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'] as const;

/** Entropy, mutual information, variation ratio. */
export const MEASURE_COLORS = ['#54278f', '#238b45', '#525252'] as const;

/** Top-level configuration of every figure: white background, readable type. */
export const BASE_CONFIG = {
  font: 'DejaVu Sans, Verdana, sans-serif',
  title: { fontSize: 15, subtitleFontSize: 11, subtitleColor: '#555555', anchor: 'start', offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#e8e8e8' },
  legend: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal', symbolSize: 120 },
  view: { stroke: '#bdbdbd' },
} as const;

/** A title with an optional subtitle, as Vega-Lite takes it. */
export function titleOf(text: string, subtitle?: string): { text: string; subtitle?: string } {
  return subtitle !== undefined && subtitle !== '' ? { text, subtitle } : { text };
}
