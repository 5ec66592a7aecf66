import type { ProgressEvent } from '@mcu/core';

/**
 * A progress bar on stderr, only when stderr is a TTY, not --quiet, and the run has lasted
 * over ~1 s (short runs stay silent). stdout carries only the result.
 */
export function progressBar(stream: NodeJS.WriteStream, enabled: boolean): { update(e: ProgressEvent): void; done(): void } {
  const start = Date.now();
  let shown = false;
  return {
    update(e) {
      if (!enabled || !stream.isTTY || Date.now() - start < 1000) return;
      shown = true;
      const width = 30;
      const filled = Math.round((e.samplesDone / e.samplesTotal) * width);
      const se = e.maxStandardError !== undefined ? `  max s.e. ${e.maxStandardError.toPrecision(3)}` : '';
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${e.samplesDone}/${e.samplesTotal} samples${se}`);
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}

/** What a rows progress bar shows: rows scored of the total, and for a queued run the shards held by workers. */
export interface RowsProgress {
  readonly rowsDone: number;
  readonly rowsTotal: number;
  /** Queued runs: shards being scored now (0: no worker has taken one yet). */
  readonly active?: number;
}

/** `1m05s`, `42s`. */
function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const r = Math.round(s);
  return r >= 60 ? `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s` : `${r}s`;
}

/**
 * `mcu acquire`'s bar on stderr: rows done of the pool, rows/s since the start and the ETA at
 * that rate (and, for a queued run, how many shards workers hold). Shown under the same rules as
 * {@link progressBar}: a TTY, not --quiet, after ~1 s.
 */
export function rowsProgressBar(stream: NodeJS.WriteStream, enabled: boolean): { update(e: RowsProgress): void; done(): void } {
  const start = Date.now();
  let shown = false;
  return {
    update(e) {
      const elapsed = (Date.now() - start) / 1000;
      if (!enabled || !stream.isTTY || elapsed < 1) return;
      shown = true;
      const width = 30;
      const filled = e.rowsTotal > 0 ? Math.round((e.rowsDone / e.rowsTotal) * width) : 0;
      const rate = e.rowsDone / elapsed;
      const eta = rate > 0 ? duration((e.rowsTotal - e.rowsDone) / rate) : '?';
      const queue =
        e.active === undefined
          ? ''
          : e.active === 0 && e.rowsDone < e.rowsTotal
            ? '  waiting for mcu worker…'
            : `  ${e.active} shard${e.active === 1 ? '' : 's'} active`;
      stream.write(
        `\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${e.rowsDone}/${e.rowsTotal} rows  ${Math.round(rate)} rows/s  ETA ${eta}${queue}`,
      );
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}
