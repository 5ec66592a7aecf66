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
