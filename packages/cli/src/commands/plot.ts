/**
 * `mcu plot`: a figure of the predictive distribution (README "Plotting"). MODEL is run T
 * times through @mcu/plot's collectSamples, or a saved `predict --format json` result is read
 * (--from); @mcu/plot draws it. The CLI only reads files, names flags and writes the figure.
 */
import { boundaryWarning, McuError } from '@mcu/core';
import type { PlotInput, PlotOptions } from '@mcu/plot';
import { readFileText, writeFileAtomic } from '../io/files.js';
import { readInputFile } from '../io/input.js';
import { parseJsonText } from '../io/json.js';
import { readLabeled } from '../io/targets.js';
import { tauFlags, type Plan } from '../plan.js';
import { progressBar } from '../progress.js';
import { cliWording, loadModel, printWarnings, readFeeds, tasksFor, tauFor } from './common.js';

type PlotLib = typeof import('@mcu/plot');

/** How the library's messages name its options: by the flags that set them. */
const FLAGS = {
  output: '--output',
  trainEnd: '--train-end',
  sigmaScale: '--sigma-scale',
  standard: '--standard',
  points: '--data',
  topK: '--top-k',
  inputs: '--input',
} as const;

export async function plot(plan: Plan, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WriteStream }): Promise<void> {
  const p = plan.plot;
  if (p === undefined) throw new McuError('E_INTERNAL', 'plot without a plot plan');
  const lib = await import('@mcu/plot');
  const options: PlotOptions = {
    ...(p.output !== undefined ? { output: p.output } : {}),
    ...(p.trainEnd !== undefined ? { trainEnd: p.trainEnd } : {}),
    ...(p.sigmaScale !== undefined ? { sigmaScale: p.sigmaScale } : {}),
    ...(p.standard ? { standard: true } : {}),
    ...(p.topK !== undefined ? { topK: p.topK } : {}),
    ...(p.points !== undefined ? { points: readPoints(p.points.file, p.points.target) } : {}),
    format: p.format,
    optionNames: FLAGS,
  };
  const input = p.from !== undefined ? savedInput(plan, p.from, lib) : await modelInput(plan, io, lib, options);
  const figure = await lib.plotPrediction(input.input, { ...options, metadata: input.metadata });
  if (figure.format === 'png') {
    // plan.ts refuses a PNG without -o
    writeFileAtomic(plan.out!, figure.png);
    return;
  }
  const text = figure.svg.endsWith('\n') ? figure.svg : `${figure.svg}\n`;
  if (plan.out !== undefined) writeFileAtomic(plan.out, text);
  else io.stdout.write(text);
}

interface Prepared {
  readonly input: PlotInput;
  readonly metadata: Record<string, unknown>;
}

/** --from RESULT --input FILE: the saved result and the rows it was made for. */
function savedInput(plan: Plan, from: string, lib: PlotLib): Prepared {
  const result = lib.parseSavedPrediction(parseJsonText(readFileText(from, 'result'), from, 'E_INPUT'), from);
  const arg = plan.input[0]!;
  const rows = readInputFile(arg.path);
  return {
    input: { kind: 'result', result, source: from, inputs: { data: rows.data, dims: rows.dims, source: arg.path } },
    metadata: { input: arg.path },
  };
}

/** MODEL --input FILE: run the T passes of the chosen output. */
async function modelInput(plan: Plan, io: { stderr: NodeJS.WriteStream }, lib: PlotLib, options: PlotOptions): Promise<Prepared> {
  const loaded = await loadModel(plan);
  const { mcu, model, warnings } = loaded;
  printWarnings(plan, io.stderr, warnings);
  try {
    const feeds = readFeeds(model, plan.input);
    const output = lib.chooseOutput(
      model.outputs.map((o) => o.name),
      plan.plot!.output,
      options,
      `'${plan.model}'`,
    );
    const [task] = await tasksFor(plan, loaded, feeds, [output]);
    if (task === undefined) throw new McuError('E_INTERNAL', `no task for output '${output}'`);
    // refuse what the figure cannot use before the T passes run
    lib.checkPlotOptions(task.task, output, options, task.task === 'classification' ? task.width : undefined);
    const first = model.inputs[0]!;
    // readFeeds makes float32 tensors
    const rows = { data: feeds[first.name]!.data as Float32Array, dims: feeds[first.name]!.dims, source: plan.input[0]!.path };
    if (task.task === 'regression') {
      if (model.inputs.length !== 1) {
        throw new McuError(
          'E_INPUT',
          `a band plot needs exactly one input feature (its x axis), but '${plan.model}' has ${model.inputs.length} inputs (${model.inputs.map((i) => i.name).join(', ')})`,
        );
      }
      if (task.width !== 1) {
        throw new McuError(
          'E_INPUT',
          `a band plot draws one value per row, but output '${output}' has ${task.width} values per row (dims [N, ${task.perRow.join(', ')}]): plot a model output with one value per row`,
        );
      }
      lib.bandX(rows, options);
    } else {
      if (plan.tau.kind !== 'none' && !(plan.tau.kind === 'value' && plan.tau.source === 'config')) {
        throw new McuError(
          'E_USAGE',
          `${tauFlags(plan.tau)} sets the model precision τ of a regression output (1/τ is added to its variance), but output '${output}' is classification: drop it`,
        );
      }
      const k = options.topK ?? Math.min(lib.DEFAULT_TOP_K, task.width);
      const points = plan.engine.samples * rows.dims[0]! * k;
      if (points > lib.MAX_SCATTER_POINTS) {
        throw new McuError(
          'E_USAGE',
          `--samples ${plan.engine.samples} × ${rows.dims[0]} inputs × ${k} classes = ${points} points to scatter, over ${lib.MAX_SCATTER_POINTS}: give fewer --samples, inputs or --top-k`,
        );
      }
    }
    const { tau, fitted } = await tauFor(plan, loaded, [task]);
    if (fitted?.atBoundary) printWarnings(plan, io.stderr, [boundaryWarning(fitted, cliWording(plan))]);
    const bar = progressBar(io.stderr, !plan.quiet);
    const samples = await lib.collectSamples(mcu, model, feeds, {
      output,
      task: task.task,
      ...(task.holds !== undefined ? { holds: task.holds } : {}),
      samples: plan.engine.samples,
      seed: plan.engine.seed,
      scope: plan.engine.scope,
      memoryBudgetBytes: plan.engine.memoryBudgetBytes,
      ...(tau !== undefined ? { tau } : {}),
      ...(plan.plot!.standard ? { standard: true } : {}),
      onProgress: (e) => bar.update(e),
    });
    bar.done();
    return {
      input: { kind: 'samples', samples, inputs: rows },
      metadata: {
        model: plan.model,
        input: plan.input.map((a) => (a.name !== undefined ? `${a.name}=${a.path}` : a.path)),
        ...(fitted !== undefined ? { tauFitted: fitted.atBoundary ? 'boundary' : true } : {}),
        warnings: [...warnings],
      },
    };
  } finally {
    await model.dispose();
  }
}

/** --data FILE [--target COL]: the data points of a band plot (one x column and a target). */
function readPoints(file: string, target: string | number | undefined): { x: Float32Array; y: Float64Array } {
  const d = readLabeled(file, target);
  const cols = d.x.dims[1] ?? 1;
  if (d.x.dims.length !== 2 || cols !== 1) {
    throw new McuError(
      'E_INPUT',
      `--data ${file}: the data points of a band plot need one x column and a target column, but the file has ${cols + 1} columns: keep the x column and the target`,
    );
  }
  return { x: d.x.data, y: d.y.values };
}
