/**
 * Numeric text tables: CSV (comma separated, optional header, double-quoted cells) or
 * whitespace separated (spaces/tabs, as numpy.savetxt and UCI data.txt write them).
 * Blank lines are ignored. Every problem is an McuError('E_INPUT') naming the source,
 * the data row and the column (1-based), and the file line.
 */
import { McuError } from '@mcu/core';
import { isNumericCell, NONFINITE_RE, NUM_RE, splitCsvLine } from '@mcu/acquire/csv-cells';

export interface NumericTable {
  readonly rows: number;
  readonly cols: number;
  /** Row-major rows×cols. */
  readonly values: Float64Array;
  /** Header cells, when the first row was a header. */
  readonly columns?: string[];
  readonly separator: 'comma' | 'whitespace';
}

export { isNumericCell, splitCsvLine };

export interface TableOptions {
  /** `auto` (default): the first row is a header when it has a non-numeric cell. */
  readonly header?: 'auto' | 'never';
}

function describeCell(cell: string): string {
  const shown = cell.length > 40 ? `${cell.slice(0, 37)}...` : cell;
  return `'${shown}'`;
}

/** Parse a numeric table from text. */
export function parseNumericTable(text: string, source: string, options: TableOptions = {}): NumericTable {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split(/\r\n|\n|\r/);
  const kept: { line: number; text: string }[] = [];
  for (let k = 0; k < lines.length; k++) {
    const t = lines[k]!;
    if (t.trim() !== '') kept.push({ line: k + 1, text: t });
  }
  if (kept.length === 0) throw new McuError('E_INPUT', `${source}: the file is empty (no rows)`);
  const separator: NumericTable['separator'] = kept.some((l) => l.text.includes(',')) ? 'comma' : 'whitespace';
  const split = (t: string): string[] => (separator === 'comma' ? splitCsvLine(t) : t.trim().split(/\s+/));

  let start = 0;
  let columns: string[] | undefined;
  const first = split(kept[0]!.text);
  if ((options.header ?? 'auto') === 'auto' && first.some((c) => !isNumericCell(c))) {
    columns = first;
    start = 1;
  }
  const dataLines = kept.slice(start);
  if (dataLines.length === 0) {
    throw new McuError('E_INPUT', `${source}: the file has a header (${first.join(', ')}) but no data rows`);
  }
  const cols = columns?.length ?? split(dataLines[0]!.text).length;
  const rows = dataLines.length;
  const values = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const { line, text: t } = dataLines[r]!;
    const cells = split(t);
    if (cells.length !== cols) {
      const ref = columns ? 'the header' : 'row 1';
      throw new McuError('E_INPUT', `${source}: row ${r + 1}: expected ${cols} columns (as ${ref}), got ${cells.length} (line ${line})`);
    }
    for (let c = 0; c < cols; c++) {
      const cell = cells[c]!;
      const where = `${source}: row ${r + 1}, column ${c + 1}`;
      const tail = ` (line ${line}${columns ? `, column '${columns[c]}'` : ''})`;
      if (cell === '') throw new McuError('E_INPUT', `${where}: expected a number, got an empty cell${tail}`);
      if (NONFINITE_RE.test(cell)) {
        throw new McuError('E_INPUT', `${where}: expected a finite number, got ${describeCell(cell)}${tail}`);
      }
      if (!NUM_RE.test(cell)) {
        throw new McuError('E_INPUT', `${where}: expected a number, got ${describeCell(cell)}${tail}`);
      }
      const v = Number(cell);
      if (!Number.isFinite(v)) {
        throw new McuError('E_INPUT', `${where}: expected a finite number, got ${describeCell(cell)} (overflows)${tail}`);
      }
      values[r * cols + c] = v;
    }
  }
  return columns ? { rows, cols, values, columns, separator } : { rows, cols, values, separator };
}
