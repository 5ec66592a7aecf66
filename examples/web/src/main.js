// The page: choose a model (a bundled example or a file of one's own), show what mcu sees in it
// (core `inspect`), run MC dropout (core `predict`, in ./worker.js) with a progress bar and a
// Cancel button, and draw the result with @mcu/plot (Vega-Lite specs rendered to SVG by Vega).
import { bandPlotSpec, classSequenceSpec, renderSvg } from '@mcu/plot';

const $ = (id) => document.getElementById(id);

// The bundled examples: the model file, its input rows, and its settings.
const CO2_TRAIN_END = 1.19; // months beyond this x were not trained on (README "Plotting")
const EXAMPLES = {
  co2: {
    file: 'models/co2_relu.preserve.onnx',
    rows: () => Array.from({ length: 71 }, (_, i) => [Math.round((-2 + i * 0.1) * 10) / 10]),
    tau: '50',
    task: 'auto',
    seed: 7,
    trainEnd: CO2_TRAIN_END,
  },
  lenet: { file: 'models/lenet.preserve.onnx', rows: () => rotatedOnes(12), tau: '', task: 'classification', seed: 7 },
};

/** `n` images (28 × 28, values in [0, 1], row-major) of a drawn "1" rotated from 0° to 165° (the paper's figure 4). */
function rotatedOnes(n) {
  const rows = [];
  for (let k = 0; k < n; k++) {
    const a = (k * Math.PI) / n;
    const [c, s] = [Math.cos(a), Math.sin(a)];
    const img = new Array(28 * 28);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        // rotate the pixel back into the upright stroke's frame: a bar 3 px wide, 20 px tall
        const [dx, dy] = [x - 13.5, y - 13.5];
        const u = c * dx + s * dy;
        const v = -s * dx + c * dy;
        const ink = Math.min(1, Math.max(0, 2 - Math.abs(u))) * Math.min(1, Math.max(0, 10.5 - Math.abs(v)));
        img[y * 28 + x] = Math.round(ink * 1000) / 1000;
      }
    }
    rows.push(img);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------
// The worker and its requests
// ---------------------------------------------------------------------------------------

let worker;
let nextId = 0;
const pending = new Map();

function startWorker() {
  worker = new Worker(new URL('worker.js', location.href), { type: 'module' });
  worker.onmessage = (event) => {
    const msg = event.data;
    const p = pending.get(msg.id);
    if (p === undefined) return;
    if (msg.type === 'progress') p.onProgress?.(msg);
    else {
      pending.delete(msg.id);
      if (msg.type === 'done') p.resolve(msg.result);
      else p.reject(Object.assign(new Error(msg.message), { code: msg.code }));
    }
  };
  worker.onerror = (event) => {
    const message = `the worker failed: ${event.message || 'worker.js could not be loaded'}`;
    for (const p of pending.values()) p.reject(Object.assign(new Error(message), { code: 'E_PAGE' }));
    pending.clear();
  };
}

function request(msg, onProgress) {
  if (worker === undefined) startWorker();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, onProgress });
    worker.postMessage({ ...msg, id });
  });
}

// ---------------------------------------------------------------------------------------
// State and display
// ---------------------------------------------------------------------------------------

const state = { bytes: undefined, name: '', summary: undefined, trainEnd: undefined, running: undefined };

function setStatus(kind, text) {
  $('status').dataset.state = kind;
  $('status').textContent = text;
}

const escapeHtml = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const dims = (d) => `[${d.join(', ')}]`;

function table(head, rows) {
  const th = head.map((h, i) => `<th${i === 0 ? ' class="left"' : ''}>${escapeHtml(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c, i) => `<td${i === 0 ? ' class="left"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table>`;
}

function showSummary(s) {
  const selfCheck = s.selfCheck.passed === null ? `skipped: ${s.selfCheck.skipped}` : `passed (${s.selfCheck.on} rows)`;
  $('summary').innerHTML =
    `<p>backend <b>${escapeHtml(s.backend)}</b>, execution provider <b>${escapeHtml(s.executionProvider)}</b>; self-check ${escapeHtml(selfCheck)}</p>` +
    table(
      ['input', 'dtype', 'dims'],
      s.inputs.map((t) => [t.name, t.dtype, dims(t.dims)]),
    ) +
    table(
      ['output', 'dtype', 'dims', 'activation'],
      s.outputs.map((t) => [t.name, t.dtype, dims(t.dims), t.activation ?? '']),
    ) +
    table(
      ['stochastic site', 'kind', 'drop rate', 'mask shape'],
      s.sites.map((site) => [site.name, site.kind, String(site.rate), dims(site.maskShape ?? [])]),
    ) +
    (s.warnings.length > 0 ? `<ul>${s.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>` : '');
  $('summary').dataset.sites = String(s.sites.length);
}

async function useModel(bytes, name, example) {
  state.bytes = undefined;
  $('run').disabled = true;
  $('summary').textContent = '';
  $('model-name').textContent = name;
  setStatus('busy', 'inspecting the model…');
  if (example !== undefined) {
    $('rows').value = JSON.stringify(example.rows());
    $('tau').value = example.tau;
    $('task').value = example.task;
    $('seed').value = String(example.seed);
  } else {
    // a model of one's own starts from the library's defaults: task auto, no τ
    $('tau').value = '';
    $('task').value = 'auto';
  }
  state.trainEnd = example?.trainEnd;
  try {
    const summary = await request({ type: 'inspect', bytes });
    showSummary(summary);
    if (example === undefined && summary.inputs.length === 1 && $('rows').dataset.model !== name) {
      // a model of one's own: one example row of the right size, to edit
      const perRow = summary.inputs[0].dims.slice(1).reduce((a, b) => (typeof b === 'number' ? a * b : Number.NaN), 1);
      $('rows').value = Number.isFinite(perRow) ? JSON.stringify([new Array(perRow).fill(0)]) : '';
    }
    $('rows').dataset.model = name;
    Object.assign(state, { bytes, name, summary });
    $('run').disabled = false;
    setStatus('idle', 'ready');
  } catch (e) {
    setStatus('error', `${name}: ${e.code ?? 'E_PAGE'}: ${e.message}`);
  }
}

async function loadExample() {
  const key = $('example').value;
  const example = EXAMPLES[key];
  $('run').disabled = true;
  setStatus('busy', `fetching ${example.file}…`);
  try {
    const res = await fetch(example.file);
    if (!res.ok) throw new Error(`fetching ${example.file} gave HTTP ${res.status}`);
    await useModel(new Uint8Array(await res.arrayBuffer()), example.file, example);
  } catch (e) {
    setStatus('error', `the example '${key}' could not be loaded: ${e.message}`);
  }
}

async function useFile(file) {
  if (!file.name.endsWith('.onnx')) {
    setStatus('error', `'${file.name}' is not an .onnx file`);
    return;
  }
  await useModel(new Uint8Array(await file.arrayBuffer()), file.name, undefined);
}

// ---------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------

/** The run settings from the form; a bad one is an Error naming the field and the value. */
function settings() {
  const samples = Number($('samples').value);
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`T must be an integer ≥ 1, got '${$('samples').value}'`);
  const seed = Number($('seed').value);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`seed must be an integer ≥ 0, got '${$('seed').value}'`);
  const tauText = $('tau').value.trim();
  const tau = tauText === '' ? undefined : Number(tauText);
  if (tau !== undefined && !(tau > 0)) throw new Error(`τ must be a number > 0 (or empty), got '${tauText}'`);
  let rows;
  try {
    rows = JSON.parse($('rows').value);
  } catch (e) {
    throw new Error(`the input rows are not JSON: ${e.message}`);
  }
  if (!Array.isArray(rows) || rows.length === 0) throw new Error('the input rows must be a non-empty JSON array of rows');
  return { samples, seed, tau, task: $('task').value, rows };
}

async function run() {
  let s;
  try {
    s = settings();
  } catch (e) {
    setStatus('error', e.message);
    return;
  }
  const controller = new AbortController();
  // The worker is busy while the model runs, so Cancel reaches it through shared memory when
  // the page is cross-origin isolated (examples/web/serve.mjs); else the worker is stopped.
  const cancel = crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4)) : undefined;
  controller.signal.addEventListener('abort', () => {
    if (cancel !== undefined) Atomics.store(cancel, 0, 1);
    else {
      worker.terminate();
      worker = undefined;
      for (const p of pending.values()) p.reject(Object.assign(new Error('the worker was stopped'), { code: 'E_ABORTED' }));
      pending.clear();
    }
  });
  state.running = controller;
  $('run').disabled = true;
  $('cancel').disabled = false;
  $('progress').value = 0;
  $('result').textContent = '';
  $('figure').textContent = '';
  $('table').textContent = '';
  setStatus('running', `running T = ${s.samples}…`);
  const started = performance.now();
  try {
    const result = await request({ type: 'predict', bytes: state.bytes, ...s, cancel }, (p) => {
      $('progress').value = (p.batch + p.samplesDone / p.samplesTotal) / p.batches;
      setStatus('running', `running: ${p.samplesDone} of ${p.samplesTotal} samples`);
    });
    $('progress').value = 1;
    await show(result, s);
    setStatus(
      'done',
      `done: T = ${result.meta.samples}, seed ${result.meta.seed}, ${result.meta.backend} (${result.meta.executionProvider}), ${((performance.now() - started) / 1000).toFixed(1)} s` +
        (result.meta.warnings.length > 0 ? ` — ${result.meta.warnings.join('; ')}` : ''),
    );
  } catch (e) {
    if (e.code === 'E_ABORTED') setStatus('cancelled', `cancelled (${e.message})`);
    else setStatus('error', `${e.code ?? 'E_PAGE'}: ${e.message}`);
  } finally {
    state.running = undefined;
    $('run').disabled = state.bytes === undefined;
    $('cancel').disabled = true;
  }
}

const fmt = (x) => (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(1));

async function show({ outputs, meta }, s) {
  const shown = {
    meta: { backend: meta.backend, executionProvider: meta.executionProvider, samples: meta.samples, seed: meta.seed, tau: meta.tau, warnings: meta.warnings },
    rows: s.rows.length,
    outputs: {},
  };
  let figure;
  let html = '';
  for (const [name, o] of Object.entries(outputs)) {
    if (o.task === 'regression') {
      shown.outputs[name] = { task: o.task, dims: o.dims, mean: Array.from(o.mean), std: Array.from(o.std) };
      const oneX = s.rows.every((r) => (Array.isArray(r) ? r.length === 1 : typeof r === 'number'));
      if (figure === undefined && oneX && o.dims[1] === 1) {
        const x = s.rows.map((r) => (Array.isArray(r) ? r[0] : r));
        figure = bandPlotSpec({
          x,
          mean: o.mean,
          std: o.std,
          ...(state.trainEnd !== undefined ? { trainEnd: state.trainEnd } : {}),
          title: `${state.name}: predictive mean ± std`,
          subtitle: `T = ${meta.samples}, seed ${meta.seed}, τ = ${meta.tau ?? 'none'}`,
          xLabel: 'x',
          yLabel: name,
        });
      } else {
        const D = o.dims[1];
        html += table(
          ['row', ...Array.from({ length: D }, (_, d) => `${name}[${d}] mean ± std`)],
          Array.from({ length: o.dims[0] }, (_, i) => [
            String(i),
            ...Array.from({ length: D }, (_, d) => `${fmt(o.mean[i * D + d])} ± ${fmt(o.std[i * D + d])}`),
          ]),
        );
      }
    } else {
      const [N, C] = o.dims;
      const meanProbs = Array.from({ length: N }, (_, i) => Array.from(o.probs.subarray(i * C, (i + 1) * C)));
      shown.outputs[name] = {
        task: o.task,
        dims: o.dims,
        probs: meanProbs,
        predicted: Array.from(o.predicted),
        entropy: Array.from(o.entropy),
        mutualInformation: Array.from(o.mutualInformation),
      };
      if (figure === undefined) {
        figure = classSequenceSpec({
          T: meta.samples,
          N,
          C,
          meanProbs,
          predicted: o.predicted,
          entropy: o.entropy,
          mutualInformation: o.mutualInformation,
          variationRatio: o.variationRatio,
          title: `${state.name}: class probabilities`,
          subtitle: `T = ${meta.samples}, seed ${meta.seed}`,
        });
      }
      html += table(
        ['row', 'predicted', 'p(predicted)', 'entropy', 'mutual information', ...Array.from({ length: C }, (_, c) => `p(${c})`)],
        meanProbs.map((p, i) => [String(i), String(o.predicted[i]), fmt(p[o.predicted[i]]), fmt(o.entropy[i]), fmt(o.mutualInformation[i]), ...p.map(fmt)]),
      );
    }
  }
  $('table').innerHTML = html;
  $('result').textContent = JSON.stringify(shown);
  if (figure !== undefined) {
    try {
      $('figure').innerHTML = await renderSvg(figure);
    } catch (e) {
      $('figure').textContent = `the figure could not be drawn: ${e.message}`;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------------

$('load-example').addEventListener('click', loadExample);
$('run').addEventListener('click', run);
$('cancel').addEventListener('click', () => state.running?.abort());
$('file').addEventListener('change', () => {
  const f = $('file').files?.[0];
  if (f !== undefined) useFile(f);
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files?.[0];
  if (f !== undefined) useFile(f);
});
loadExample();
