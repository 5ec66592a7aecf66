// The page's worker: mcu on onnxruntime-web (webgpu where the browser has a GPU adapter, else wasm)
// off the page's main thread, so that the page
// keeps drawing the progress bar and answering the Cancel button while a model runs.
//
// Messages in: { id, type: 'inspect', bytes } and { id, type: 'predict', bytes, rows, samples, seed,
// task, tau, cancel }, where `cancel` is an Int32Array on a SharedArrayBuffer (the page sets it to 1 on
// Cancel; a busy worker cannot read messages, but it reads that flag after every backend call).
// Messages out: { id, type: 'progress', samplesDone, samplesTotal }, { id, type: 'done', result },
// { id, type: 'error', code, message }.
import { createMcu, describeError, inspect, isMcuError, predict } from '@mcu/core';
import { onnxWebModule } from '@mcu/backend-onnx/web';

// WebGPU first where the browser has it, wasm as the listed fallback: the result's
// meta.executionProvider says which ran, and a fallback is one of its warnings.
const executionProviders = 'gpu' in self.navigator ? ['webgpu', 'wasm'] : ['wasm'];
const mcu = createMcu({
  modules: [onnxWebModule({ wasmPaths: new URL('ort/', self.location.href).href })],
  backendOptions: { 'onnx-web': { executionProviders } },
});

async function handle(msg) {
  if (msg.type === 'inspect') return inspect(msg.bytes, { mcu });
  if (msg.type === 'predict') {
    const controller = new AbortController();
    const cancelled = () => msg.cancel !== undefined && Atomics.load(msg.cancel, 0) === 1;
    const { outputs, meta } = await predict(msg.bytes, msg.rows, {
      mcu,
      samples: msg.samples,
      seed: msg.seed,
      task: msg.task,
      ...(msg.tau !== undefined ? { tau: msg.tau } : {}),
      signal: controller.signal,
      onProgress: (e) => {
        self.postMessage({ id: msg.id, type: 'progress', samplesDone: e.samplesDone, samplesTotal: e.samplesTotal, batch: e.batch, batches: e.batches });
        // The engine looks at the signal before its next backend call: E_ABORTED from there.
        if (cancelled()) controller.abort(new Error('cancelled in the page'));
      },
    });
    return { outputs, meta };
  }
  throw new Error(`worker: unknown request type '${msg.type}'`);
}

self.onmessage = async (event) => {
  const msg = event.data;
  try {
    self.postMessage({ id: msg.id, type: 'done', result: await handle(msg) });
  } catch (e) {
    self.postMessage({ id: msg.id, type: 'error', code: isMcuError(e) ? e.code : 'E_PAGE', message: describeError(e) });
  }
};
