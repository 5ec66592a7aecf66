/**
 * The cells of a numeric text table (CSV or whitespace-separated): what a number looks like and
 * how a CSV line splits. One definition for the CLI's tables (packages/cli/src/io/table.ts) and
 * the acquire pools (./csv.ts), so that a pool reads exactly as `--input` does. No imports:
 * cheap to load at the CLI's start.
 */
/** A finite number as a table cell. */
export const NUM_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** NaN and infinities, in the spellings numpy and friends write. */
export const NONFINITE_RE = /^[+-]?(?:nan|inf|infinity)$/i;

/** A cell that reads as a number, finite or not (NaN, inf count: they are data, just bad data). */
export function isNumericCell(cell: string): boolean {
  return NUM_RE.test(cell) || NONFINITE_RE.test(cell);
}

/** Split one CSV line, honouring double quotes ("a,b" and "" escapes). Cells are trimmed. */
export function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cur = '';
  let quoted = false;
  let wasQuoted = false;
  for (let k = 0; k < line.length; k++) {
    const c = line[k]!;
    if (quoted) {
      if (c === '"') {
        if (line[k + 1] === '"') {
          cur += '"';
          k++;
        } else quoted = false;
      } else cur += c;
    } else if (c === '"' && cur.trim() === '') {
      quoted = true;
      wasQuoted = true;
      cur = '';
    } else if (c === ',') {
      cells.push(wasQuoted ? cur : cur.trim());
      cur = '';
      wasQuoted = false;
    } else if (!(wasQuoted && (c === ' ' || c === '\t'))) cur += c;
  }
  cells.push(wasQuoted ? cur : cur.trim());
  return cells;
}
