import { parentPort, workerData } from 'node:worker_threads';
import { McuError } from '@mcu/core';
import { runExperiment, type ExperimentOptions } from './experiment.js';

// One run of runComparison's `parallel` mode: its own thread, its own tfjs engine.
const job = workerData as ExperimentOptions;
runExperiment(job).then(
  (result) => parentPort!.postMessage({ ok: true, result }),
  (e: unknown) => parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e), ...(e instanceof McuError ? { code: e.code } : {}) }),
);
