// The flag walk: EVERY option of the OPTIONS table (packages/cli/src/args.ts) for EVERY command
// but help. Where a command takes the option, a case proves that it changes the result or its
// metadata (against the same call without it; --out, --format, --config, --quiet and --debug
// prove their own effect); where it does not, the call must be refused (exit 2) with a message
// naming the flag. The walk is driven by OPTIONS: an option or command without a case fails.
// `main(argv, io)` is called in-process (small T, few rows), so no build is needed.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, OPTIONS, flagTableMarkdown, type CliOptions, type CommandName } from '../packages/cli/src/args.js';
import { TFJS_PROVIDERS } from '../packages/cli/src/plan.js';
import { decodeModel, encodeModel, parseOnnxOptions } from '@mcu/backend-onnx';
import { svgMetadata } from '@mcu/plot';
import { TFJS_BACKENDS } from '@mcu/backend-tfjs';
import { co2Ref, fixtureBytes, fixturePath, lenetRef, uciFixture } from './helpers/fixtures.js';
import { REPO_ROOT, tempDir, writeCsv, writeJson } from './helpers/cli.js';
import { mcu, show, type InProcessRun } from './helpers/in-process.js';
import { writeKerasDense, writeRatioInputModel } from './helpers/flag-models.js';
import { writeTinyCaffe } from './helpers/caffe-net.js';
import { closeServers } from '../packages/cli/src/commands/serve.js';
import { queueFlagEffects, startQueueWalk, type QueueWalk } from './helpers/redis-flags.js';

type Cmd = Exclude<CommandName, 'help'>;
type Key = keyof CliOptions;
const CMDS = COMMANDS.filter((c): c is Cmd => c !== 'help');

/** How a case proves an option's effect: two calls, and what must differ between them. */
interface Effect {
  /** The call without the option (may itself fail, e.g. when the option is required). */
  readonly base: () => string[];
  /** The same call with it. */
  readonly with: () => string[];
  readonly check: (base: InProcessRun, withIt: InProcessRun) => void | Promise<void>;
  /** Working directory (default: an empty one). */
  readonly cwd?: () => string;
}

// ------------------------------------------------------------------ inputs
let dir: string;
let cleanCwd: string;
/** acquire and worker: a real redis-server with a run waiting on it (test/helpers/redis-flags.ts). */
let queueWalk: QueueWalk;
let badConfigCwd: string;
const F: Record<string, string> = {};

const T = ['--samples', '20'];
const json = <T = Record<string, unknown>>(r: InProcessRun): T => {
  expect(r.code, show(r)).toBe(0);
  return JSON.parse(r.stdout) as T;
};
type Meta = Record<string, unknown> & {
  samples: number;
  sites: { rate: number; name: string }[];
  tau: number | null;
  backend: string;
  executionProvider: string;
};
type Out = Record<string, unknown> & { task: string; mean?: number[][]; std?: number[][]; probs?: number[][] };
const predictJson = (r: InProcessRun) => json<{ meta: Meta; outputs: Record<string, Out> }>(r);
const only = (r: InProcessRun): Out => Object.values(predictJson(r).outputs)[0]!;
const failsNaming = (r: InProcessRun, flag: string | RegExp) => {
  expect(r.code, show(r)).toBe(2);
  expect(r.stdout, show(r)).toBe('');
  expect(r.stderr, show(r)).toMatch(typeof flag === 'string' ? new RegExp(flag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : flag);
};
/** Equal structure, and every number within `rel` of the other's (relative to the larger of 1 and its size). */
const expectClose = (a: unknown, b: unknown, rel: number, at = 'outputs'): void => {
  if (typeof a === 'number' && typeof b === 'number') {
    expect(Math.abs(a - b), `${at}: ${a} vs ${b}`).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(a), Math.abs(b)));
  } else if (Array.isArray(a) && Array.isArray(b)) {
    expect(a.length, at).toBe(b.length);
    a.forEach((v, i) => expectClose(v, b[i], rel, `${at}[${i}]`));
  } else if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    expect(Object.keys(a).sort(), at).toEqual(Object.keys(b).sort());
    for (const k of Object.keys(a)) expectClose((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], rel, `${at}.${k}`);
  } else expect(a, at).toEqual(b);
};
const differ = (a: unknown, b: unknown, what: string) => expect(JSON.stringify(a), what).not.toEqual(JSON.stringify(b));
const sites = (r: InProcessRun) => json<{ sites: unknown[] }>(r).sites;

/** The --spatial masks of the onnx backend: channel-wise where it implements the option. */
const backendTakesSpatial = (): boolean => {
  const parsed = parseOnnxOptions({ insertDropout: { rate: 0.1, before: ['Conv'], spatial: true } }) as { insertDropout?: { spatial?: boolean } };
  return parsed.insertDropout?.spatial === true;
};

beforeAll(async () => {
  dir = tempDir('mcu-flags-');
  cleanCwd = tempDir('mcu-flags-cwd-');
  badConfigCwd = tempDir('mcu-flags-badcfg-');
  writeJson(path.join(badConfigCwd, 'mcu.config.json'), { samples: 0 });
  const ref = co2Ref('1.13-small', 'co2_relu');
  F['co2'] = path.join(REPO_ROOT, 'examples', 'co2_relu.preserve.onnx');
  F['x'] = path.join(REPO_ROOT, 'examples', 'co2-months.csv');
  F['models'] = path.join(dir, 'models');
  fs.mkdirSync(F['models']);
  fs.copyFileSync(F['co2'], path.join(F['models'], 'co2.onnx'));
  F['x2'] = writeCsv(path.join(dir, 'x2.csv'), [[ref.x[5]!], [ref.x[300]!], [ref.x[700]!]]);
  const rows = [0, 50, 100, 200, 300, 400, 500, 600, 700, 740];
  fs.writeFileSync(path.join(dir, 'data.csv'), `${['x,y', ...rows.map((i) => `${ref.x[i]},${ref.y[i]}`)].join('\n')}\n`);
  F['data'] = path.join(dir, 'data.csv');
  const valRows = [10, 60, 120, 220, 330, 430];
  fs.writeFileSync(path.join(dir, 'val.csv'), `${['x,y', ...valRows.map((i) => `${ref.x[i]},${ref.y[i]}`)].join('\n')}\n`);
  F['val'] = path.join(dir, 'val.csv');
  // target first: with --target y the target is column 0, by default the last (x)
  fs.writeFileSync(path.join(dir, 'val-yx.csv'), `${['y,x', ...valRows.map((i) => `${ref.y[i]},${ref.x[i]}`)].join('\n')}\n`);
  F['valYX'] = path.join(dir, 'val-yx.csv');
  F['masks'] = writeJson(
    path.join(dir, 'ones.json'),
    Array.from({ length: 4 }, () => Array.from({ length: 13 }, () => new Array<number>(128).fill(1))),
  );
  F['co2Eval'] = fixturePath('pytorch-1.13-small/co2_relu.eval.onnx');
  F['co2Masked'] = fixturePath('pytorch-1.13-small/co2_relu.masked.onnx');
  F['ratio'] = writeRatioInputModel(path.join(dir, 'ratio.onnx'));
  F['lenet'] = fixturePath('pytorch-1.13/lenet.preserve.onnx');
  F['lenetEval'] = fixturePath('pytorch-1.13/lenet.eval.onnx');
  const lenet = lenetRef('1.13');
  const digits = lenet.test_images_u8.slice(0, 4);
  F['digits'] = writeCsv(
    path.join(dir, 'digits.csv'),
    digits.map((img) => img.map((b) => b / 255)),
  );
  F['digitsLabelled'] = writeCsv(
    path.join(dir, 'digits-labelled.csv'),
    digits.map((img, i) => [...img.map((b) => b / 255), lenet.test_labels[i]!]),
  );
  F['keras'] = writeKerasDense(path.join(dir, 'keras'), { inputs: 1, hidden: 16, outputs: 1 });
  F['goodConfig'] = writeJson(path.join(dir, 'good.json'), { samples: 7 });
  F['tableConfig'] = writeJson(path.join(dir, 'table.json'), { format: 'table' });
  F['jsonConfig'] = writeJson(path.join(dir, 'json.json'), { format: 'json' });
  const uci = uciFixture('yacht');
  F['uci'] = uci.dir;
  F['uciModel'] = uci.splits[0]!.modelPath;
  F['twoOut'] = writeTwoOutputModel(path.join(dir, 'two-outputs.onnx'));
  const tiny = writeTinyCaffe(dir);
  F['caffe'] = tiny.prototxt;
  F['caffemodel'] = tiny.caffemodel;
  F['solver'] = tiny.solver;
  // a saved predict result for plot --from
  F['result'] = path.join(dir, 'result.json');
  const r = await mcu(['predict', F['co2']!, '--input', F['x']!, ...T, '-o', F['result']!], cleanCwd);
  expect(r.code, show(r)).toBe(0);
  queueWalk = await startQueueWalk(dir);
}, 120_000);

afterAll(async () => {
  await queueWalk?.stop();
});

/** co2_relu with a second output y2 = −y (a model whose plot needs --output). */
function writeTwoOutputModel(file: string): string {
  const m = decodeModel(fixtureBytes('pytorch-1.13-small/co2_relu.preserve.onnx'));
  const g = m.graph!;
  const y = g.output![0]!;
  g.node!.push({ op_type: 'Neg', input: [y.name!], output: ['y2'], name: 'neg' });
  g.output!.push({ ...y, name: 'y2' });
  fs.writeFileSync(file, encodeModel(m));
  return file;
}

let outCount = 0;
const outFile = (ext = 'json') => path.join(dir, `out-${++outCount}.${ext}`);
const mask4 = ['--mask-input', 'mask1=0.1', '--mask-input', 'mask2=0.1', '--mask-input', 'mask3=0.1', '--mask-input', 'mask4=0.1'];
const triple = ['--weight-decay', '1e-4', '--length-scale', '0.01', '--n-train', '444'];
const without = (args: string[], flag: string) => {
  const i = args.indexOf(flag);
  return i < 0 ? args : [...args.slice(0, i), ...args.slice(i + 2)];
};

// ------------------------------------------------------------------ per-command bases
const P = (...extra: string[]) => ['predict', F['co2']!, '--input', F['x']!, ...T, ...extra];
const V = (...extra: string[]) => ['evaluate', F['co2']!, '--data', F['data']!, ...T, ...extra];
const I = (model: string, ...extra: string[]) => ['inspect', model, ...extra];
/** plot: the figure (SVG) goes to stdout; its metadata records the run. */
const PL = (...extra: string[]) => ['plot', F['co2']!, '--input', F['x']!, ...T, ...extra];
type PlotMeta = {
  output: string;
  task: string;
  result?: string;
  tauFitted?: unknown;
  run: Meta & { seed: number; scope: string; chunkSamples: number };
  figure: Record<string, unknown>;
};
const svgOf = (r: InProcessRun): string => {
  expect(r.code, show(r)).toBe(0);
  expect(r.stdout.startsWith('<svg'), show(r)).toBe(true);
  return r.stdout;
};
const plotMeta = (r: InProcessRun): PlotMeta => svgMetadata(svgOf(r)) as PlotMeta;
/** The band paths of a band plot (they carry the numbers). */
const bands = (r: InProcessRun): string[] => [...svgOf(r).matchAll(/<g class="mark-area role-mark[^"]*"[^>]*><path[^>]* d="([^"]*)"/g)].map((m) => m[1]!);

/** Convert MODEL with EXTRA flags into a fresh file; returns the argv (the file is its -o). */
const C = (model: string, ...extra: string[]) => ['convert', model, '-o', outFile('onnx'), ...extra];
const convertedBytes = (r: InProcessRun): Buffer => {
  expect(r.code, show(r)).toBe(0);
  return fs.readFileSync(r.argv[r.argv.indexOf('-o') + 1]!);
};

const tripleCase = (cmd: 'predict' | 'evaluate' | 'plot', flag: string): Effect => {
  const call = cmd === 'predict' ? P : cmd === 'plot' ? PL : V;
  return {
    base: () => without(call(...triple), flag),
    with: () => call(...triple),
    check: (b, w) => {
      failsNaming(b, flag);
      const tau = cmd === 'predict' ? predictJson(w).meta.tau : cmd === 'plot' ? plotMeta(w).run.tau : json<{ tau: number }>(w).tau;
      expect(tau).toBeCloseTo((0.9 * 0.01 ** 2) / (2 * 444 * 1e-4), 10);
    },
  };
};

const outCase = (base: () => string[]): Effect => ({
  base,
  with: () => [...base(), '--out', outFile()],
  check: (b, w) => {
    expect(b.code, show(b)).toBe(0);
    expect(w.code, show(w)).toBe(0);
    expect(w.stdout).toBe('');
    expect(fs.readFileSync(w.argv[w.argv.length - 1]!, 'utf8')).toBe(b.stdout);
  },
});

const configCase = (base: () => string[], config: () => string, effect: (w: InProcessRun) => void): Effect => ({
  cwd: () => badConfigCwd,
  base,
  with: () => [...base(), '--config', config()],
  check: (b, w) => {
    // ./mcu.config.json is read without --config (and is bad here); --config reads FILE instead
    failsNaming(b, /mcu\.config\.json: 'samples' expects an integer ≥ 1, got 0/);
    expect(w.code, show(w)).toBe(0);
    effect(w);
  },
});

const debugCase = (base: () => string[]): Effect => ({
  base,
  with: () => [...base(), '--debug'],
  check: (b, w) => {
    expect(b.code, show(b)).toBe(0);
    expect(w.code, show(w)).toBe(0);
    expect(b.stderr).not.toMatch(/mcu: debug:/);
    expect(w.stderr).toMatch(/^mcu: debug: plan \{.*"backend":\{/m);
  },
});

const quietCase = (base: () => string[], warning: RegExp): Effect => ({
  base,
  with: () => [...base(), '--quiet'],
  check: (b, w) => {
    expect(b.code, show(b)).toBe(0);
    expect(w.code, show(w)).toBe(0);
    expect(b.stderr).toMatch(warning);
    expect(w.stderr).toBe('');
    if (b.stdout !== '') expect(w.stdout).toBe(b.stdout);
  },
});

const scalingCheck = (b: InProcessRun, w: InProcessRun) => differ(only(b).mean, only(w).mean, '--dropout-scaling none changes the kept units’ scale');

/** spatial: channel-wise masks where the backend implements it; otherwise a refusal naming --spatial. */
const spatialCheck = (b: InProcessRun, w: InProcessRun, metaOf: (r: InProcessRun) => unknown) => {
  expect(b.code, show(b)).toBe(0);
  if (backendTakesSpatial()) {
    expect(w.code, show(w)).toBe(0);
    differ(metaOf(b), metaOf(w), '--spatial changes the masks');
  } else {
    failsNaming(w, /--spatial: the onnx backend inserted site '.*' with an element-wise mask \[20, 12, 12\]/);
  }
};

// ------------------------------------------------------------------ Caffe (a tiny HDF5Data → Convolution → Dropout → InnerProduct net)
const CAFFE = () => [F['caffe']!, '--weights', F['caffemodel']!, '--input-shape', 'data=1,1,1'];
/** The Caffe call of each command, with (`full`) or without one of its flags. */
const caffeCall = (cmd: Cmd, args: string[]): string[] => {
  switch (cmd) {
    case 'predict':
      return ['predict', ...args, '--input', F['x']!, ...T];
    case 'evaluate':
      return ['evaluate', ...args, '--data', F['data']!, ...T];
    case 'plot':
      return ['plot', ...args, '--input', F['x']!, ...T];
    case 'convert':
      return ['convert', ...args, '-o', outFile('onnx')];
    default:
      return ['inspect', ...args];
  }
};
const runsCaffe = (cmd: Cmd, r: InProcessRun) => {
  expect(r.code, show(r)).toBe(0);
  if (cmd === 'predict') expect(predictJson(r).meta.sites.map((x) => x.rate)).toEqual([0.2]);
  else if (cmd === 'plot') expect(plotMeta(r).run.sites.map((x) => x.rate)).toEqual([0.2]);
  else if (cmd === 'convert') expect(convertedBytes(r)[0]).toBe(0x08);
  else if (cmd === 'inspect') expect(json<{ caffe: { weights: string } }>(r).caffe.weights).toBe('present');
  else expect(json(r)['rmse']).toEqual(expect.any(Number));
};
const weightsCase = (cmd: Cmd): Effect => ({
  base: () => caffeCall(cmd, [F['caffe']!, '--input-shape', 'data=1,1,1']),
  with: () => caffeCall(cmd, CAFFE()),
  check: (b, w) => {
    if (cmd === 'inspect') {
      expect(json<{ caffe: { weights: string } }>(b).caffe.weights).toBe('missing');
      expect(json<{ warnings: string[] }>(b).warnings[0]).toMatch(/no weights \(structure only\): give them with --weights/);
    } else failsNaming(b, /a network definition without weights cannot run: give its trained weights with --weights NET\.caffemodel/);
    runsCaffe(cmd, w);
  },
});
const inputShapeCase = (cmd: Cmd): Effect => ({
  base: () => caffeCall(cmd, [F['caffe']!, '--weights', F['caffemodel']!]),
  with: () => caffeCall(cmd, CAFFE()),
  check: (b, w) => {
    failsNaming(b, /input 'data'.*--input-shape/);
    runsCaffe(cmd, w);
  },
});
const solverCase = (cmd: 'predict' | 'evaluate' | 'plot'): Effect => ({
  base: () => caffeCall(cmd, [...CAFFE(), '--length-scale', '0.01', '--n-train', '444']),
  with: () => caffeCall(cmd, [...CAFFE(), '--solver', F['solver']!, '--length-scale', '0.01', '--n-train', '444']),
  check: (b, w) => {
    failsNaming(b, /--solver, --length-scale and --n-train go together|--weight-decay, --length-scale and --n-train go together/);
    const tau = cmd === 'predict' ? predictJson(w).meta.tau : cmd === 'plot' ? plotMeta(w).run.tau : json<{ tau: number }>(w).tau;
    // eq. 7 with p = 0.2 (drop1) and the solver's weight_decay 0.0005
    expect(tau).toBeCloseTo((0.8 * 0.01 ** 2) / (2 * 444 * 0.0005), 12);
  },
});

/**
 * serve: `mcu serve` returns once it listens (the server keeps a real process alive), printing
 * its URL and limits on stderr; a case talks to the servers, then closes them as SIGTERM does.
 */
const PORT = 20_000 + Math.floor(Math.random() * 20_000);
const servedUrl = (r: InProcessRun): string => {
  const m = /^mcu: serving .* at (http:\/\/\S+) \(/m.exec(r.stderr);
  if (m === null) throw new Error(`no 'mcu: serving … at URL' line:\n${show(r)}`);
  return m[1]!;
};
const served = async (r: InProcessRun, route: string, body?: unknown): Promise<{ status: number }> => {
  const res = await fetch(
    `${servedUrl(r)}${route}`,
    body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
  );
  await res.arrayBuffer();
  return { status: res.status };
};
/** The case, then every server it started closed. */
const closing = (e: Effect): Effect => ({
  ...e,
  check: async (b, w) => {
    try {
      await e.check(b, w);
    } finally {
      await closeServers();
    }
  },
});
const serveCase = (flag: string[], check: (b: InProcessRun, w: InProcessRun) => unknown): Effect => ({
  base: () => ['serve', '--models', F['models']!, '--port', '0'],
  with: () => ['serve', '--models', F['models']!, '--port', '0', ...flag],
  check: async (b, w) => {
    try {
      expect([b.code, w.code], `${show(b)}\n${show(w)}`).toEqual([0, 0]);
      await check(b, w);
    } finally {
      await closeServers();
    }
  },
});

/** acquire's and worker's cases, by option (test/helpers/redis-flags.ts). */
const QUEUE_EFFECTS = queueFlagEffects(
  () => ({ co2: F['co2']!, co2Csv: F['x']!, twoOut: F['twoOut']!, badConfigCwd, goodConfig: F['goodConfig']! }),
  () => queueWalk,
  () => outFile(),
);

/**
 * The prepared-model cache: --cache-dir DIR fills DIR (one entry per model and preparation);
 * --no-cache reads and writes none, even where the config names a folder. `run` is the command's
 * call; `sameAnswer` compares what the cached and the uncached runs printed.
 */
const entriesOf = (d: string): string[] => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith('.mcuprep')) : []);
const cacheDirCase = (run: (...extra: string[]) => string[], sameAnswer: (b: InProcessRun, w: InProcessRun) => void = () => undefined): Effect => {
  let d = '';
  return {
    base: () => run(),
    with: () => {
      d = tempDir('mcu-flags-cache-');
      return run('--cache-dir', d);
    },
    check: async (b, w) => {
      try {
        expect([b.code, w.code], `${show(b)}\n${show(w)}`).toEqual([0, 0]);
        expect(entriesOf(d).length, `entries in --cache-dir ${d}`).toBeGreaterThanOrEqual(1);
        sameAnswer(b, w);
      } finally {
        await closeServers();
      }
    },
  };
};
const noCacheCase = (run: (...extra: string[]) => string[], sameAnswer: (b: InProcessRun, w: InProcessRun) => void = () => undefined): Effect => {
  // a config naming a fresh cache folder: the run without the flag fills it, the run with it leaves it empty
  let cwd = '';
  let folder = '';
  let filled = 0;
  return {
    cwd: () => {
      if (cwd === '') {
        cwd = tempDir('mcu-flags-nocache-');
        folder = path.join(cwd, 'cache');
        writeJson(path.join(cwd, 'mcu.config.json'), { backendOptions: { onnx: { cacheDir: folder } } });
      }
      return cwd;
    },
    base: () => run(),
    with: () => {
      filled = entriesOf(folder).length;
      fs.rmSync(folder, { recursive: true, force: true });
      return run('--no-cache');
    },
    check: async (b, w) => {
      try {
        expect([b.code, w.code], `${show(b)}\n${show(w)}`).toEqual([0, 0]);
        expect(filled, "the config's cache folder after the run without --no-cache").toBeGreaterThanOrEqual(1);
        expect(entriesOf(folder), "the config's cache folder after the run with --no-cache").toEqual([]);
        sameAnswer(b, w);
      } finally {
        await closeServers();
      }
    },
  };
};
const sameStdout = (b: InProcessRun, w: InProcessRun): void => expect(w.stdout).toBe(b.stdout);
const SERVE = (...extra: string[]) => ['serve', '--models', F['models']!, '--port', '0', ...extra];
const ACQ = (...extra: string[]) => [...MINIMAL_ACQUIRE(), ...extra];
const MINIMAL_ACQUIRE = () => ['acquire', F['co2']!, '--pool', F['x']!, '--k', '3', '--heuristic', 'std', '--samples', '5', '--workers', '1'];

const OTHER_EFFECTS: { readonly [K in Key]?: Readonly<Partial<Record<Cmd, Effect>>> } = {
  input: {
    plot: {
      base: () => ['plot', F['co2']!, ...T],
      with: () => PL(),
      check: (b, w) => {
        failsNaming(b, 'plot: missing --input');
        expect(plotMeta(w).figure['rows']).toBe(13);
      },
    },
    predict: {
      base: () => ['predict', F['co2']!, ...T],
      with: () => P(),
      check: (b, w) => {
        failsNaming(b, 'missing --input');
        expect(only(w).mean).toHaveLength(13);
      },
    },
    inspect: {
      base: () => I(F['co2']!),
      with: () => I(F['co2']!, '--input', F['x']!),
      check: (b, w) => {
        const on = (r: InProcessRun) => json<{ selfCheck: { on: string } }>(r).selfCheck.on;
        expect([on(b), on(w)]).toEqual(['2 synthetic rows', 'the --input rows (first 2)']);
      },
    },
  },
  samples: {
    plot: {
      base: () => without(PL(), '--samples'),
      with: () => PL(),
      check: (b, w) => expect([plotMeta(b).run.samples, plotMeta(w).run.samples]).toEqual([100, 20]),
    },
    predict: {
      base: () => without(P(), '--samples'),
      with: () => P(),
      check: (b, w) => expect([predictJson(b).meta.samples, predictJson(w).meta.samples]).toEqual([100, 20]),
    },
    evaluate: { base: () => without(V(), '--samples'), with: () => V(), check: (b, w) => expect([json(b)['samples'], json(w)['samples']]).toEqual([100, 20]) },
  },
  bake: {
    convert: {
      base: () => C(F['co2']!),
      with: () => C(F['co2']!, '--bake', '5'),
      check: (b, w) => {
        expect(convertedBytes(b).includes('mcu.baked')).toBe(false);
        expect(convertedBytes(w).includes('mcu.baked')).toBe(true);
      },
    },
  },
  seed: {
    plot: {
      base: () => PL(),
      with: () => PL('--seed', '3'),
      check: (b, w) => {
        expect([plotMeta(b).run.seed, plotMeta(w).run.seed]).toEqual([0, 3]);
        differ(bands(b), bands(w), 'another seed, other bands');
      },
    },
    predict: { base: () => P(), with: () => P('--seed', '3'), check: (b, w) => differ(only(b).mean, only(w).mean, 'another seed, other masks') },
    evaluate: { base: () => V(), with: () => V('--seed', '3'), check: (b, w) => differ(json(b)['rmse'], json(w)['rmse'], 'another seed') },
    convert: {
      base: () => C(F['co2']!, '--bake', '5'),
      with: () => C(F['co2']!, '--bake', '5', '--seed', '3'),
      check: (b, w) => differ(convertedBytes(b), convertedBytes(w), 'another seed, other baked masks'),
    },
  },
  task: {
    plot: {
      base: () => ['plot', F['lenet']!, '--input', F['digits']!, ...T],
      with: () => ['plot', F['lenet']!, '--input', F['digits']!, ...T, '--task', 'classification'],
      check: (b, w) => {
        failsNaming(b, /output 'logits' has 10 values per row .*--task classification/);
        expect(plotMeta(w).task).toBe('classification');
      },
    },
    predict: {
      base: () => ['predict', F['lenet']!, '--input', F['digits']!, ...T],
      with: () => ['predict', F['lenet']!, '--input', F['digits']!, ...T, '--task', 'classification'],
      check: (b, w) => {
        failsNaming(b, /output 'logits' has 10 values per row .*--task classification/);
        expect(only(w).task).toBe('classification');
      },
    },
    evaluate: {
      base: () => ['evaluate', F['lenet']!, '--data', F['digitsLabelled']!, ...T],
      with: () => ['evaluate', F['lenet']!, '--data', F['digitsLabelled']!, ...T, '--task', 'logits=classification'],
      check: (b, w) => {
        failsNaming(b, /output 'logits' has 10 values per row .*--task classification/);
        expect(json(w)['task']).toBe('classification');
      },
    },
    convert: {
      base: () => C(F['lenet']!, '--bake', '3'),
      with: () => C(F['lenet']!, '--bake', '3', '--task', 'classification'),
      check: (b, w) => {
        failsNaming(b, /output 'logits' has 10 values per row .*--task classification/);
        expect(convertedBytes(w).includes('logits_probs')).toBe(true);
      },
    },
  },
  tau: {
    plot: {
      base: () => PL(),
      with: () => PL('--tau', '50'),
      check: (b, w) => {
        expect([plotMeta(b).run.tau, plotMeta(w).run.tau]).toEqual([null, 50]);
        differ(bands(b), bands(w), 'τ⁻¹ widens the bands');
      },
    },
    predict: { base: () => P(), with: () => P('--tau', '50'), check: (b, w) => expect([predictJson(b).meta.tau, predictJson(w).meta.tau]).toEqual([null, 50]) },
    evaluate: { base: () => V(), with: () => V('--tau', '50'), check: (b, w) => expect([json(b)['logLikelihood'], json(w)['tau']]).toEqual([null, 50]) },
    convert: {
      base: () => C(F['co2']!, '--bake', '5'),
      with: () => C(F['co2']!, '--bake', '5', '--tau', '50'),
      check: (b, w) => differ(convertedBytes(b), convertedBytes(w), 'τ⁻¹ stored in the baked variance'),
    },
  },
  weightDecay: {
    predict: tripleCase('predict', '--weight-decay'),
    evaluate: tripleCase('evaluate', '--weight-decay'),
    plot: tripleCase('plot', '--weight-decay'),
  },
  lengthScale: {
    predict: tripleCase('predict', '--length-scale'),
    evaluate: tripleCase('evaluate', '--length-scale'),
    plot: tripleCase('plot', '--length-scale'),
  },
  nTrain: { predict: tripleCase('predict', '--n-train'), evaluate: tripleCase('evaluate', '--n-train'), plot: tripleCase('plot', '--n-train') },
  fitTau: {
    plot: {
      base: () => PL(),
      with: () => PL('--fit-tau', F['val']!),
      check: (b, w) => {
        expect(plotMeta(b).run.tau).toBeNull();
        expect(plotMeta(w).tauFitted).toBe(true);
        expect(plotMeta(w).run.tau).toBeGreaterThan(0);
      },
    },
    predict: {
      base: () => P(),
      with: () => P('--fit-tau', F['val']!),
      check: (b, w) => {
        expect(predictJson(b).meta.tau).toBeNull();
        const m = predictJson(w).meta;
        expect(m['tauFitted']).toBe(true);
        expect(m.tau).toBeGreaterThan(0);
      },
    },
    evaluate: {
      base: () => V(),
      with: () => V('--fit-tau', F['val']!),
      check: (b, w) => {
        expect(json(b)['tauFitted']).toBe(false);
        expect(json(w)['tauFitted']).toBe(true);
      },
    },
  },
  target: {
    plot: {
      base: () => PL('--fit-tau', F['valYX']!),
      with: () => PL('--fit-tau', F['valYX']!, '--target', 'y'),
      check: (b, w) => differ(plotMeta(b).run.tau, plotMeta(w).run.tau, '--target picks the VALFILE column τ is fitted to'),
    },
    predict: {
      base: () => P('--fit-tau', F['valYX']!),
      with: () => P('--fit-tau', F['valYX']!, '--target', 'y'),
      check: (b, w) => differ(predictJson(b).meta.tau, predictJson(w).meta.tau, '--target picks the VALFILE column τ is fitted to'),
    },
    evaluate: {
      base: () => ['evaluate', F['co2']!, '--data', F['valYX']!, ...T],
      with: () => ['evaluate', F['co2']!, '--data', F['valYX']!, ...T, '--target', 'y'],
      check: (b, w) => differ(json(b)['rmse'], json(w)['rmse'], '--target picks the target column'),
    },
  },
  backend: {
    plot: {
      base: () => PL(),
      with: () => PL('--backend', 'onnx-web'),
      check: (b, w) => expect([plotMeta(b).run.backend, plotMeta(w).run.backend]).toEqual(['onnx', 'onnx-web']),
    },
    predict: {
      base: () => P(),
      with: () => P('--backend', 'onnx-web'),
      check: (b, w) => expect([predictJson(b).meta.backend, predictJson(w).meta.backend]).toEqual(['onnx', 'onnx-web']),
    },
    evaluate: {
      base: () => V(),
      with: () => V('--backend', 'onnx-web'),
      check: (b, w) => expect([json(b)['backend'], json(w)['backend']]).toEqual(['onnx', 'onnx-web']),
    },
    inspect: {
      base: () => I(F['co2']!),
      with: () => I(F['co2']!, '--backend', 'onnx-web'),
      check: (b, w) => expect([json(b)['backend'], json(w)['backend']]).toEqual(['onnx', 'onnx-web']),
    },
    backends: {
      base: () => ['backends', '--format', 'json'],
      with: () => ['backends', '--format', 'json', '--backend', 'tfjs'],
      check: (b, w) => {
        const names = (r: InProcessRun) => json<{ backends: { name: string }[] }>(r).backends.map((x) => x.name);
        expect(names(b)).toEqual(expect.arrayContaining(['onnx', 'onnx-web', 'tfjs']));
        expect(names(w)).toEqual(['tfjs']);
      },
    },
  },
  ep: {
    plot: {
      base: () => ['plot', F['keras']!, '--input', F['x']!, ...T],
      with: () => ['plot', F['keras']!, '--input', F['x']!, ...T, '--ep', 'cpu'],
      check: (b, w) => {
        expect(plotMeta(b).run.backend).toBe('tfjs');
        expect(plotMeta(w).run.executionProvider).toBe('cpu');
      },
    },
    predict: {
      base: () => ['predict', F['keras']!, '--input', F['x']!, ...T],
      with: () => ['predict', F['keras']!, '--input', F['x']!, ...T, '--ep', 'cpu'],
      check: async (b, w) => {
        expect(predictJson(b).meta.backend).toBe('tfjs');
        expect(predictJson(w).meta.executionProvider).toBe('cpu');
        if (predictJson(b).meta.executionProvider === 'cpu') {
          // cpu is also the default here: another provider must reach the backend too
          const r = await mcu(['predict', F['keras']!, '--input', F['x']!, ...T, '--ep', 'wasm'], cleanCwd);
          if (r.code === 0) expect(predictJson(r).meta.executionProvider).toBe('wasm');
          else expect(r.stderr).toMatch(/wasm/);
        }
      },
    },
    evaluate: {
      base: () => ['evaluate', F['keras']!, '--data', F['data']!, ...T],
      with: () => ['evaluate', F['keras']!, '--data', F['data']!, ...T, '--ep', 'cpu'],
      check: (b, w) => {
        expect(json(b)['backend']).toBe('tfjs');
        expect(json(w)['executionProvider']).toBe('cpu');
      },
    },
    inspect: {
      base: () => I(F['keras']!),
      with: () => I(F['keras']!, '--ep', 'cpu'),
      check: (b, w) => {
        expect(json(b)['backend']).toBe('tfjs');
        expect(json(w)['executionProvider']).toBe('cpu');
      },
    },
  },
  maskScope: {
    plot: {
      base: () => PL(),
      with: () => PL('--mask-scope', 'point'),
      check: (b, w) => {
        expect([plotMeta(b).run.scope, plotMeta(w).run.scope]).toEqual(['sample', 'point']);
        differ(bands(b), bands(w), 'point masks');
      },
    },
    predict: { base: () => P(), with: () => P('--mask-scope', 'point'), check: (b, w) => differ(only(b).mean, only(w).mean, 'point masks') },
    evaluate: {
      base: () => V(),
      with: () => V('--mask-scope', 'point'),
      check: (b, w) => expect([json(b)['maskScope'], json(w)['maskScope']]).toEqual(['sample', 'point']),
    },
  },
  tolerance: {
    // A small memory budget keeps chunks small, so that the stopping rule is checked often.
    predict: {
      base: () => ['predict', F['co2']!, '--input', F['x']!, '--samples', '400', '--memory-budget', '0.2'],
      with: () => ['predict', F['co2']!, '--input', F['x']!, '--samples', '400', '--memory-budget', '0.2', '--tolerance', '0.05'],
      check: (b, w) => {
        const m = predictJson(w).meta;
        expect(predictJson(b).meta['tolerance']).toBeUndefined();
        expect(m['tolerance']).toBe(0.05);
        expect(m['converged']).toBe(true);
        expect(m.samples).toBeLessThan(400);
        expect(m['maxStandardError'] as number).toBeLessThanOrEqual(0.05);
      },
    },
    evaluate: {
      base: () => ['evaluate', F['co2']!, '--data', F['data']!, '--samples', '400', '--memory-budget', '0.2'],
      with: () => ['evaluate', F['co2']!, '--data', F['data']!, '--samples', '400', '--memory-budget', '0.2', '--tolerance', '0.05'],
      check: (b, w) => {
        expect(json(b)['samples']).toBe(400);
        expect(json(w)['converged']).toBe(true);
        expect(json(w)['samples'] as number).toBeLessThan(400);
      },
    },
  },
  masks: {
    predict: {
      base: () => ['predict', F['co2']!, '--input', F['x']!],
      with: () => ['predict', F['co2']!, '--input', F['x']!, '--masks', F['masks']!],
      check: (b, w) => {
        expect(predictJson(b).meta.samples).toBe(100);
        const m = predictJson(w).meta;
        expect([m.samples, m['masks']]).toEqual([1, F['masks']]);
        for (const v of only(w).std!) expect(v[0]).toBe(0);
      },
    },
  },
  cacheDir: {
    predict: cacheDirCase(P, sameStdout),
    inspect: cacheDirCase((...e) => I(F['co2']!, ...e), sameStdout),
    evaluate: cacheDirCase(V, sameStdout),
    plot: cacheDirCase(PL, (b, w) => expect(bands(w)).toEqual(bands(b))),
    serve: cacheDirCase(SERVE),
    acquire: cacheDirCase(ACQ, sameStdout),
  },
  noCache: {
    predict: noCacheCase(P, sameStdout),
    inspect: noCacheCase((...e) => I(F['co2']!, ...e), sameStdout),
    evaluate: noCacheCase(V, sameStdout),
    plot: noCacheCase(PL, (b, w) => expect(bands(w)).toEqual(bands(b))),
    serve: noCacheCase(SERVE),
    acquire: noCacheCase(ACQ, sameStdout),
  },
  memoryBudgetMB: {
    plot: {
      base: () => PL(),
      with: () => PL('--memory-budget', '0.01'),
      check: (b, w) => {
        expect([plotMeta(b).run.chunkSamples, plotMeta(w).run.chunkSamples]).toEqual([20, 1]);
        expect(bands(w)).toEqual(bands(b)); // samples per call change memory, not numbers
      },
    },
    predict: {
      base: () => P(),
      with: () => P('--memory-budget', '0.01'),
      check: (b, w) => {
        expect(predictJson(b).meta['chunkSamples']).toBe(20);
        expect(predictJson(w).meta['chunkSamples']).toBe(1);
        // Samples per call change memory, not the numbers beyond float32 rounding: the estimators
        // run in the graph (issue 14), where each call's samples are summed in float32 (≤ 20
        // samples here: relative error ≤ 20·2⁻²⁴ ≈ 1.2e-6) before float64 combines the calls.
        expectClose(predictJson(w).outputs, predictJson(b).outputs, 1e-5);
      },
    },
    evaluate: {
      base: () => V(),
      with: () => V('--memory-budget', '0.01'),
      check: (b, w) => {
        expect([json(b)['chunkSamples'], json(w)['chunkSamples']]).toEqual([20, 1]);
        expect(json(w)['rmse']).toBe(json(b)['rmse']);
      },
    },
  },
  batchSize: {
    predict: {
      base: () => P(),
      with: () => P('--batch-size', '5'),
      check: (b, w) => {
        expect(predictJson(b).meta['batches']).toBeUndefined();
        expect(predictJson(w).meta['batches']).toEqual({ size: 5, count: 3, samples: [20, 20, 20] });
        expect(predictJson(w).outputs).toEqual(predictJson(b).outputs);
      },
    },
  },
  data: {
    plot: {
      base: () => PL(),
      with: () => PL('--data', F['data']!),
      check: (b, w) => {
        expect(plotMeta(b).figure['points']).toBe(0);
        expect(plotMeta(w).figure['points']).toBe(10);
      },
    },
    evaluate: {
      base: () => ['evaluate', F['co2']!, ...T],
      with: () => V(),
      check: (b, w) => {
        failsNaming(b, 'missing test set: --data FILE');
        expect(json(w)['n']).toBe(10);
      },
    },
  },
  uci: {
    evaluate: {
      base: () => ['evaluate', F['uciModel']!, ...T],
      with: () => ['evaluate', F['uciModel']!, ...T, '--uci', F['uci']!],
      check: (b, w) => {
        failsNaming(b, '--uci DIR');
        expect(json(w)['n']).toBeGreaterThan(0);
      },
    },
  },
  split: {
    evaluate: {
      base: () => ['evaluate', F['uciModel']!, ...T, '--uci', F['uci']!],
      with: () => ['evaluate', F['uciModel']!, ...T, '--uci', F['uci']!, '--split', '1'],
      check: (b, w) => differ(json(b)['rmse'], json(w)['rmse'], 'another split, other test rows'),
    },
  },
  insertDropout: {
    plot: {
      base: () => ['plot', F['co2Eval']!, '--input', F['x']!, ...T],
      with: () => ['plot', F['co2Eval']!, '--input', F['x']!, ...T, '--insert-dropout', '0.1'],
      check: (b, w) => expect([plotMeta(b).run.sites.length, plotMeta(w).run.sites.length]).toEqual([0, 4]),
    },
    predict: {
      base: () => ['predict', F['co2Eval']!, '--input', F['x']!, ...T],
      with: () => ['predict', F['co2Eval']!, '--input', F['x']!, ...T, '--insert-dropout', '0.1'],
      check: (b, w) => expect([predictJson(b).meta.sites.length, predictJson(w).meta.sites.length]).toEqual([0, 4]),
    },
    evaluate: {
      base: () => ['evaluate', F['co2Eval']!, '--data', F['data']!, ...T],
      with: () => ['evaluate', F['co2Eval']!, '--data', F['data']!, ...T, '--insert-dropout', '0.1'],
      check: (b, w) => expect(json(w)['rmseMcError']).not.toBe(json(b)['rmseMcError']),
    },
    inspect: {
      base: () => I(F['co2Eval']!),
      with: () => I(F['co2Eval']!, '--insert-dropout', '0.1'),
      check: (b, w) => expect([sites(b).length, sites(w).length]).toEqual([0, 4]),
    },
    convert: {
      base: () => C(F['co2Eval']!),
      with: () => C(F['co2Eval']!, '--insert-dropout', '0.1'),
      check: (b, w) => differ(convertedBytes(b), convertedBytes(w), 'sites inserted'),
    },
  },
  spatial: {
    plot: {
      base: () => ['plot', F['lenetEval']!, '--input', F['digits']!, ...T, '--task', 'classification', '--insert-dropout', '0.1', '--before', 'Conv'],
      with: () => [
        'plot',
        F['lenetEval']!,
        '--input',
        F['digits']!,
        ...T,
        '--task',
        'classification',
        '--insert-dropout',
        '0.1',
        '--before',
        'Conv',
        '--spatial',
      ],
      check: (b, w) => spatialCheck(b, w, (r) => r.stdout.replace(/<metadata[\s\S]*?<\/metadata>/, '')),
    },
    predict: {
      base: () => ['predict', F['lenetEval']!, '--input', F['digits']!, ...T, '--task', 'classification', '--insert-dropout', '0.1', '--before', 'Conv'],
      with: () => [
        'predict',
        F['lenetEval']!,
        '--input',
        F['digits']!,
        ...T,
        '--task',
        'classification',
        '--insert-dropout',
        '0.1',
        '--before',
        'Conv',
        '--spatial',
      ],
      check: (b, w) => spatialCheck(b, w, (r) => only(r).probs),
    },
    evaluate: {
      base: () => [
        'evaluate',
        F['lenetEval']!,
        '--data',
        F['digitsLabelled']!,
        ...T,
        '--task',
        'classification',
        '--insert-dropout',
        '0.1',
        '--before',
        'Conv',
      ],
      with: () => [
        'evaluate',
        F['lenetEval']!,
        '--data',
        F['digitsLabelled']!,
        ...T,
        '--task',
        'classification',
        '--insert-dropout',
        '0.1',
        '--before',
        'Conv',
        '--spatial',
      ],
      check: (b, w) => spatialCheck(b, w, (r) => json(r)['brier']),
    },
    inspect: {
      base: () => I(F['lenetEval']!, '--insert-dropout', '0.1', '--before', 'Conv'),
      with: () => I(F['lenetEval']!, '--insert-dropout', '0.1', '--before', 'Conv', '--spatial'),
      check: (b, w) =>
        expect([(sites(b)[0] as { shape: number[] }).shape, (sites(w)[0] as { shape: number[] }).shape]).toEqual([
          [20, 12, 12],
          [20, 1, 1],
        ]),
    },
    convert: {
      base: () => C(F['lenetEval']!, '--insert-dropout', '0.1', '--before', 'Conv'),
      with: () => C(F['lenetEval']!, '--insert-dropout', '0.1', '--before', 'Conv', '--spatial'),
      check: (b, w) => differ(convertedBytes(b), convertedBytes(w), 'channel-wise masks'),
    },
  },
  before: {
    plot: {
      base: () => ['plot', F['co2Eval']!, '--input', F['x']!, ...T, '--insert-dropout', '0.1'],
      with: () => ['plot', F['co2Eval']!, '--input', F['x']!, ...T, '--insert-dropout', '0.1', '--before', 'Conv'],
      check: (b, w) => expect([plotMeta(b).run.sites.length, plotMeta(w).run.sites.length]).toEqual([4, 0]),
    },
    predict: {
      base: () => ['predict', F['co2Eval']!, '--input', F['x']!, ...T, '--insert-dropout', '0.1'],
      with: () => ['predict', F['co2Eval']!, '--input', F['x']!, ...T, '--insert-dropout', '0.1', '--before', 'Conv'],
      check: (b, w) => expect([predictJson(b).meta.sites.length, predictJson(w).meta.sites.length]).toEqual([4, 0]),
    },
    evaluate: {
      base: () => ['evaluate', F['co2Eval']!, '--data', F['data']!, ...T, '--insert-dropout', '0.1'],
      with: () => ['evaluate', F['co2Eval']!, '--data', F['data']!, ...T, '--insert-dropout', '0.1', '--before', 'Conv'],
      check: (b, w) => expect([json(b)['rmseMcError'] === 0, json(w)['rmseMcError']]).toEqual([false, 0]),
    },
    inspect: {
      base: () => I(F['co2Eval']!, '--insert-dropout', '0.1'),
      with: () => I(F['co2Eval']!, '--insert-dropout', '0.1', '--before', 'Conv'),
      check: (b, w) => expect([sites(b).length, sites(w).length]).toEqual([4, 0]),
    },
    convert: {
      base: () => C(F['co2Eval']!, '--insert-dropout', '0.1'),
      with: () => C(F['co2Eval']!, '--insert-dropout', '0.1', '--before', 'Conv'),
      check: (b, w) => differ(convertedBytes(b), convertedBytes(w), 'other insertion points'),
    },
  },
  rate: {
    plot: {
      base: () => ['plot', F['ratio']!, '--input', F['x']!, ...T],
      with: () => ['plot', F['ratio']!, '--input', F['x']!, ...T, '--rate', 'ratio1=0.3'],
      check: (b, w) => {
        failsNaming(b, '--rate ratio1=P');
        expect(plotMeta(w).run.sites.map((x) => x.rate)).toEqual([0.3, 0.1, 0.1, 0.1]);
      },
    },
    predict: {
      base: () => ['predict', F['ratio']!, '--input', F['x']!, ...T],
      with: () => ['predict', F['ratio']!, '--input', F['x']!, ...T, '--rate', 'ratio1=0.3'],
      check: (b, w) => {
        failsNaming(b, '--rate ratio1=P');
        expect(predictJson(w).meta.sites.map((s) => s.rate)).toEqual([0.3, 0.1, 0.1, 0.1]);
      },
    },
    evaluate: {
      base: () => ['evaluate', F['ratio']!, '--data', F['data']!, ...T],
      with: () => ['evaluate', F['ratio']!, '--data', F['data']!, ...T, '--rate', 'ratio1=0.3'],
      check: (b, w) => {
        failsNaming(b, '--rate ratio1=P');
        expect(json(w)['rmse']).toBeGreaterThan(0);
      },
    },
    inspect: {
      base: () => I(F['ratio']!),
      with: () => I(F['ratio']!, '--rate', 'ratio1=0.3'),
      check: (b, w) => {
        failsNaming(b, '--rate ratio1=P');
        expect((sites(w)[0] as { rate: number }).rate).toBe(0.3);
      },
    },
    convert: {
      base: () => C(F['ratio']!),
      with: () => C(F['ratio']!, '--rate', 'ratio1=0.3'),
      check: (b, w) => {
        failsNaming(b, '--rate ratio1=P');
        expect(convertedBytes(w).length).toBeGreaterThan(0);
      },
    },
  },
  maskInput: {
    plot: {
      base: () => ['plot', F['co2Masked']!, '--input', `x=${F['x']}`, ...T],
      with: () => ['plot', F['co2Masked']!, '--input', `x=${F['x']}`, ...T, ...mask4],
      check: (b, w) => {
        failsNaming(b, /model input 'mask1' was not given/);
        expect(plotMeta(w).run.sites.map((x) => x.name)).toEqual(['mask1', 'mask2', 'mask3', 'mask4']);
      },
    },
    predict: {
      base: () => ['predict', F['co2Masked']!, '--input', `x=${F['x']}`, ...T],
      with: () => ['predict', F['co2Masked']!, '--input', `x=${F['x']}`, ...T, ...mask4],
      check: (b, w) => {
        failsNaming(b, /model input 'mask1' was not given/);
        expect(predictJson(w).meta.sites.map((s) => s.name)).toEqual(['mask1', 'mask2', 'mask3', 'mask4']);
      },
    },
    evaluate: {
      base: () => ['evaluate', F['co2Masked']!, '--data', F['data']!, ...T],
      with: () => ['evaluate', F['co2Masked']!, '--data', F['data']!, ...T, ...mask4],
      check: (b, w) => {
        expect(b.code, show(b)).toBe(2); // five inputs: not an evaluate model
        expect(json(w)['rmse']).toBeGreaterThan(0);
      },
    },
    inspect: {
      base: () => I(F['co2Masked']!),
      with: () => I(F['co2Masked']!, ...mask4),
      check: (b, w) => expect([sites(b).length, sites(w).length]).toEqual([0, 4]),
    },
    convert: {
      base: () => C(F['co2Masked']!),
      with: () => C(F['co2Masked']!, ...mask4),
      check: (b, w) => differ(convertedBytes(b), convertedBytes(w), 'mask inputs declared'),
    },
  },
  dropoutScaling: {
    plot: { base: () => PL(), with: () => PL('--dropout-scaling', 'none'), check: (b, w) => differ(bands(b), bands(w), '{0, 1} masks') },
    predict: { base: () => P(), with: () => P('--dropout-scaling', 'none'), check: scalingCheck },
    evaluate: { base: () => V(), with: () => V('--dropout-scaling', 'none'), check: (b, w) => differ(json(b)['rmse'], json(w)['rmse'], '{0, 1} masks') },
    convert: {
      base: () => C(F['co2']!),
      with: () => C(F['co2']!, '--dropout-scaling', 'none'),
      check: (b, w) => differ(convertedBytes(b), convertedBytes(w), 'scaling recorded'),
    },
    inspect: {
      base: () => I(F['co2']!),
      with: () => I(F['co2']!, '--dropout-scaling', 'none'),
      check: (b, w) => expect([(sites(b)[0] as { scaling: string }).scaling, (sites(w)[0] as { scaling: string }).scaling]).toEqual(['inverted', 'none']),
    },
  },
  format: {
    plot: {
      // a file name without an extension: the format is --format's (default svg)
      base: () => PL('-o', path.join(dir, `figure-${++outCount}`)),
      with: () => PL('-o', path.join(dir, `figure-${++outCount}`), '--format', 'png'),
      check: (b, w) => {
        const file = (r: InProcessRun) => fs.readFileSync(r.argv[r.argv.indexOf('-o') + 1]!);
        expect(b.code, show(b)).toBe(0);
        expect(w.code, show(w)).toBe(0);
        expect(file(b).toString('utf8', 0, 4)).toBe('<svg');
        expect(file(w).toString('latin1', 1, 4)).toBe('PNG');
      },
    },
    predict: {
      base: () => P(),
      with: () => P('--format', 'csv'),
      check: (b, w) => {
        expect(() => JSON.parse(b.stdout)).not.toThrow();
        expect(w.stdout.split('\n')[0]).toBe('row,y_mean_0,y_std_0');
      },
    },
    evaluate: {
      base: () => V(),
      with: () => V('--format', 'table'),
      check: (b, w) => expect([b.stdout[0], w.stdout.split('\n')[0]]).toEqual(['{', expect.stringMatching(/^task\s+regression$/)]),
    },
    inspect: {
      base: () => I(F['co2']!),
      with: () => I(F['co2']!, '--format', 'table'),
      check: (b, w) => expect([b.stdout[0], w.stdout.split('\n')[0]]).toEqual(['{', 'inputs:']),
    },
    backends: {
      base: () => ['backends'],
      with: () => ['backends', '--format', 'json'],
      check: (b, w) => expect([b.stdout.startsWith('onnx ('), Object.keys(json(w))]).toEqual([true, ['backends']]),
    },
  },
  out: {
    plot: {
      base: () => PL(),
      with: () => PL('--out', outFile('svg')),
      check: (b, w) => {
        expect(b.code, show(b)).toBe(0);
        expect(w.code, show(w)).toBe(0);
        expect(w.stdout).toBe('');
        expect(fs.readFileSync(w.argv[w.argv.length - 1]!, 'utf8')).toBe(b.stdout);
      },
    },
    predict: outCase(() => P()),
    evaluate: outCase(() => V()),
    inspect: outCase(() => I(F['co2']!)),
    convert: {
      base: () => ['convert', F['co2']!],
      with: () => C(F['co2']!),
      check: (b, w) => {
        failsNaming(b, 'convert: missing -o FILE');
        expect(convertedBytes(w).subarray(0, 1)[0]).toBe(0x08); // an ONNX ModelProto
      },
    },
  },
  config: {
    plot: configCase(
      () => without(PL(), '--samples'),
      () => F['goodConfig']!,
      (w) => expect(plotMeta(w).run.samples).toBe(7),
    ),
    predict: configCase(
      () => without(P(), '--samples'),
      () => F['goodConfig']!,
      (w) => expect(predictJson(w).meta.samples).toBe(7),
    ),
    evaluate: configCase(
      () => without(V(), '--samples'),
      () => F['goodConfig']!,
      (w) => expect(json(w)['samples']).toBe(7),
    ),
    inspect: configCase(
      () => I(F['co2']!),
      () => F['tableConfig']!,
      (w) => expect(w.stdout.split('\n')[0]).toBe('inputs:'),
    ),
    convert: configCase(
      () => C(F['co2']!),
      () => F['goodConfig']!,
      (w) => expect(convertedBytes(w).length).toBeGreaterThan(0),
    ),
    backends: configCase(
      () => ['backends'],
      () => F['jsonConfig']!,
      (w) => expect(Object.keys(json(w))).toEqual(['backends']),
    ),
    serve: closing(
      configCase(
        () => ['serve', '--models', F['models']!, '--port', '0'],
        () => F['goodConfig']!,
        (w) => expect(w.stderr).toMatch(/^mcu: serving co2 at http:/m),
      ),
    ),
  },
  quiet: {
    plot: quietCase(() => ['plot', F['co2Eval']!, '--input', F['x']!, ...T, '--insert-dropout', '0.1'], /^mcu: warning: dropout \(p=0\.1\) was inserted/m),
    predict: quietCase(
      () => ['predict', F['co2Eval']!, '--input', F['x']!, ...T, '--insert-dropout', '0.1'],
      /^mcu: warning: dropout \(p=0\.1\) was inserted/m,
    ),
    evaluate: quietCase(() => V(), /^mcu: warning: no model precision τ/m),
    convert: quietCase(() => C(F['co2']!), /^mcu: wrote .*4 stochastic site/m),
  },
  debug: {
    plot: debugCase(() => PL()),
    predict: debugCase(() => P()),
    evaluate: debugCase(() => V()),
    inspect: debugCase(() => I(F['co2']!)),
    convert: debugCase(() => C(F['co2']!)),
    backends: debugCase(() => ['backends']),
    serve: closing(debugCase(() => ['serve', '--models', F['models']!, '--port', '0'])),
  },
  from: {
    plot: {
      base: () => ['plot', '--input', F['x']!],
      with: () => ['plot', '--from', F['result']!, '--input', F['x']!],
      check: (b, w) => {
        failsNaming(b, 'plot: missing MODEL');
        expect(plotMeta(w).result).toBe(F['result']);
        expect(plotMeta(w).run.samples).toBe(20);
      },
    },
  },
  output: {
    plot: {
      base: () => ['plot', F['twoOut']!, '--input', F['x']!, ...T],
      with: () => ['plot', F['twoOut']!, '--input', F['x']!, ...T, '--output', 'y2'],
      check: (b, w) => {
        failsNaming(b, /has 2 outputs \(y, y2\): choose the one to plot with --output NAME/);
        expect(plotMeta(w).output).toBe('y2');
      },
    },
  },
  trainEnd: {
    plot: {
      base: () => PL(),
      with: () => PL('--train-end', '1.19'),
      check: (b, w) => {
        expect(svgOf(b)).not.toContain('>training data ends<');
        expect(svgOf(w)).toContain('>training data ends<');
        expect(plotMeta(w).figure['trainEnd']).toBe(1.19);
      },
    },
  },
  sigmaScale: {
    plot: {
      base: () => PL(),
      with: () => PL('--sigma-scale', '4'),
      check: (b, w) => {
        expect([plotMeta(b).figure['bands'], plotMeta(w).figure['bands']]).toEqual([
          [0.5, 1, 1.5, 2],
          [2, 4, 6, 8],
        ]);
        expect(svgOf(w)).toContain('>±8σ<');
      },
    },
  },
  standard: {
    plot: {
      base: () => PL(),
      with: () => PL('--standard'),
      check: (b, w) => {
        expect([plotMeta(b).figure['standard'], plotMeta(w).figure['standard']]).toEqual([false, true]);
        expect(svgOf(w)).toContain('>standard dropout<');
      },
    },
  },
  probe: {
    backends: {
      base: () => ['backends', '--format', 'json', '--backend', 'onnx-web'],
      with: () => ['backends', '--format', 'json', '--backend', 'onnx-web', '--probe'],
      // without: the installed files; with: onnxruntime-web started (its wasm runtime runs here)
      check: (b, w) => {
        const of = (r: InProcessRun) => json<{ backends: { probed: boolean; executionProviders: { available: boolean }[] }[] }>(r).backends[0]!;
        expect([of(b).probed, of(w).probed, of(w).executionProviders[0]!.available]).toEqual([false, true, true]);
      },
    },
  },
  topK: {
    plot: {
      base: () => ['plot', F['lenet']!, '--input', F['digits']!, ...T, '--task', 'classification'],
      with: () => ['plot', F['lenet']!, '--input', F['digits']!, ...T, '--task', 'classification', '--top-k', '2'],
      check: (b, w) => expect([plotMeta(b).figure['topK'], plotMeta(w).figure['topK']]).toEqual([3, 2]),
    },
  },
  weights: Object.fromEntries((['predict', 'inspect', 'convert', 'evaluate', 'plot'] as const).map((c) => [c, weightsCase(c)])),
  inputShape: Object.fromEntries((['predict', 'inspect', 'convert', 'evaluate', 'plot'] as const).map((c) => [c, inputShapeCase(c)])),
  solver: Object.fromEntries((['predict', 'evaluate', 'plot'] as const).map((c) => [c, solverCase(c)])),
  models: {
    serve: {
      base: () => ['serve', '--port', '0'],
      with: () => ['serve', '--models', F['models']!, '--port', '0'],
      check: async (b, w) => {
        try {
          failsNaming(b, /serve: missing --models DIR/);
          expect((await served(w, '/healthz')).status).toBe(200);
        } finally {
          await closeServers();
        }
      },
    },
  },
  port: {
    serve: {
      base: () => ['serve', '--models', F['models']!],
      with: () => ['serve', '--models', F['models']!, '--port', String(PORT)],
      // the default port may be taken on this machine: then the refusal names it
      check: async (b, w) => {
        try {
          expect(b.stderr).toMatch(/127\.0\.0\.1:8080/);
          expect(servedUrl(w)).toBe(`http://127.0.0.1:${PORT}`);
          expect((await served(w, '/healthz')).status).toBe(200);
        } finally {
          await closeServers();
        }
      },
    },
  },
  host: {
    serve: serveCase(['--host', '127.0.0.2'], async (b, w) => {
      expect([new URL(servedUrl(b)).hostname, new URL(servedUrl(w)).hostname]).toEqual(['127.0.0.1', '127.0.0.2']);
      expect((await served(w, '/healthz')).status).toBe(200);
    }),
  },
  maxRows: {
    serve: serveCase(['--max-rows', '2'], async (b, w) => {
      const rows = { inputs: [[0.1], [0.2], [0.3]], options: { samples: 5 } };
      expect([(await served(b, '/v1/models/co2/predict', rows)).status, (await served(w, '/v1/models/co2/predict', rows)).status]).toEqual([200, 413]);
    }),
  },
  maxSamples: {
    serve: serveCase(['--max-samples', '5'], async (b, w) => {
      const req = { inputs: [[0.1]], options: { samples: 6 } };
      expect([(await served(b, '/v1/models/co2/predict', req)).status, (await served(w, '/v1/models/co2/predict', req)).status]).toEqual([200, 400]);
    }),
  },
  queue: {
    serve: serveCase(['--queue', '3'], (b, w) =>
      expect([b.stderr, w.stderr]).toEqual([expect.stringMatching(/, queue 256,/), expect.stringMatching(/, queue 3,/)]),
    ),
  },
  batchWaitMs: {
    serve: serveCase(['--batch-wait-ms', '7'], (b, w) =>
      expect([b.stderr, w.stderr]).toEqual([expect.stringMatching(/, batch wait 2 ms,/), expect.stringMatching(/, batch wait 7 ms,/)]),
    ),
  },
};

const EFFECTS = Object.fromEntries((Object.keys(OPTIONS) as Key[]).map((k) => [k, { ...OTHER_EFFECTS[k], ...QUEUE_EFFECTS[k] }])) as {
  readonly [K in Key]-?: Readonly<Partial<Record<Cmd, Effect>>>;
};

/** A value for each option, for the calls that must be refused. */
const SAMPLE: { readonly [K in Key]-?: readonly string[] } = {
  input: ['--input', 'x.csv'],
  samples: ['--samples', '5'],
  bake: ['--bake', '5'],
  seed: ['--seed', '1'],
  task: ['--task', 'regression'],
  tau: ['--tau', '1'],
  weightDecay: ['--weight-decay', '1e-4'],
  lengthScale: ['--length-scale', '0.01'],
  nTrain: ['--n-train', '10'],
  fitTau: ['--fit-tau', 'val.csv'],
  backend: ['--backend', 'onnx'],
  ep: ['--ep', 'cpu'],
  maskScope: ['--mask-scope', 'point'],
  tolerance: ['--tolerance', '0.1'],
  masks: ['--masks', 'm.json'],
  cacheDir: ['--cache-dir', '/tmp'],
  noCache: ['--no-cache'],
  memoryBudgetMB: ['--memory-budget', '64'],
  batchSize: ['--batch-size', '4'],
  data: ['--data', 'd.csv'],
  target: ['--target', 'y'],
  uci: ['--uci', 'dir'],
  split: ['--split', '1'],
  insertDropout: ['--insert-dropout', '0.1'],
  spatial: ['--spatial'],
  before: ['--before', 'Gemm'],
  rate: ['--rate', 'r=0.1'],
  maskInput: ['--mask-input', 'm=0.1'],
  dropoutScaling: ['--dropout-scaling', 'none'],
  format: ['--format', 'json'],
  out: ['--out', 'o.json'],
  config: ['--config', 'c.json'],
  quiet: ['--quiet'],
  debug: ['--debug'],
  from: ['--from', 'r.json'],
  output: ['--output', 'y'],
  trainEnd: ['--train-end', '1'],
  sigmaScale: ['--sigma-scale', '2'],
  standard: ['--standard'],
  probe: ['--probe'],
  topK: ['--top-k', '2'],
  weights: ['--weights', 'w.caffemodel'],
  inputShape: ['--input-shape', 'data=1,28,28'],
  solver: ['--solver', 'solver.prototxt'],
  models: ['--models', 'models'],
  port: ['--port', '8081'],
  host: ['--host', '0.0.0.0'],
  maxRows: ['--max-rows', '10'],
  maxSamples: ['--max-samples', '10'],
  queue: ['--queue', '4'],
  batchWaitMs: ['--batch-wait-ms', '1'],
  pool: ['--pool', 'pool.npy'],
  k: ['--k', '3'],
  heuristic: ['--heuristic', 'entropy'],
  candidates: ['--candidates', '20'],
  workers: ['--workers', '2'],
  shardRows: ['--shard-rows', '1024'],
  blockRows: ['--block-rows', '64'],
  queueUrl: ['--queue', 'redis://127.0.0.1:6379'],
  concurrency: ['--concurrency', '2'],
  lockMs: ['--lock-ms', '2000'],
};

/** A call each command accepts, to which the refused option is added. */
const MINIMAL: Readonly<Record<Cmd, () => string[]>> = {
  predict: () => ['predict', F['co2']!, '--input', F['x']!, ...T],
  inspect: () => ['inspect', F['co2']!],
  convert: () => ['convert', F['co2']!, '-o', outFile('onnx')],
  evaluate: () => ['evaluate', F['co2']!, '--data', F['data']!, ...T],
  plot: () => ['plot', F['co2']!, '--input', F['x']!, ...T],
  backends: () => ['backends'],
  serve: () => ['serve', '--models', F['models']!, '--port', '0'],
  acquire: () => ['acquire', F['co2']!, '--pool', F['x']!, '--k', '3', '--heuristic', 'std', '--samples', '5', '--workers', '1'],
  worker: () => ['worker', F['co2']!, '--queue', 'redis://127.0.0.1:6379'],
};

const KEYS = Object.keys(OPTIONS) as Key[];

describe('the flag walk (every option × every command)', () => {
  it('covers every option of OPTIONS and every command but help', () => {
    expect(Object.keys(EFFECTS).sort()).toEqual([...KEYS].sort());
    expect(Object.keys(SAMPLE).sort()).toEqual([...KEYS].sort());
    expect(Object.keys(MINIMAL).sort()).toEqual([...CMDS].sort());
    for (const k of KEYS) {
      const spec = OPTIONS[k] as { flag: string; commands: readonly CommandName[] };
      for (const c of CMDS) {
        const has = EFFECTS[k][c] !== undefined;
        // a case exactly where the option applies: a new option or command needs one
        expect(
          has,
          `${spec.flag} on ${c}: ${spec.commands.includes(c) ? 'applies, but has no effect case in EFFECTS' : 'does not apply, but EFFECTS has a case'}`,
        ).toBe(spec.commands.includes(c));
      }
    }
  });

  const pairs = KEYS.flatMap((k) => CMDS.map((c) => [k, c] as const));
  it.each(pairs.map(([k, c]) => [(OPTIONS[k] as { flag: string }).flag, c, k] as const))(
    '%s on %s',
    async (flag, c, k) => {
      const spec = OPTIONS[k] as { flag: string; commands: readonly CommandName[] };
      if (!spec.commands.includes(c)) {
        // one flag, two options (serve's --queue Q, acquire's and worker's --queue URL): where the
        // other option takes the flag, the flag is that option, whose own case runs
        const sibling = KEYS.find(
          (o) => o !== k && (OPTIONS[o] as { flag: string }).flag === flag && (OPTIONS[o] as { commands: readonly CommandName[] }).commands.includes(c),
        );
        if (sibling !== undefined) {
          expect(EFFECTS[sibling][c], `${flag} on ${c} is ${sibling}`).toBeDefined();
          return;
        }
        const r = await mcu([...MINIMAL[c](), ...SAMPLE[k]], cleanCwd);
        failsNaming(r, `${flag} is not an option of '${c}'`);
        expect(r.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
        return;
      }
      const e = EFFECTS[k][c]!;
      const cwd = e.cwd?.() ?? cleanCwd;
      const b = await mcu(e.base(), cwd);
      const w = await mcu(e.with(), cwd);
      await e.check(b, w);
    },
    60_000,
  );
});

describe('flags refused where they cannot apply', () => {
  const cases: [string, () => string[], RegExp][] = [
    [
      '--tau on a classifier',
      () => ['predict', F['lenet']!, '--input', F['digits']!, ...T, '--task', 'classification', '--tau', '1'],
      /--tau 1 sets the model precision τ of regression outputs.*'logits' is classification/,
    ],
    [
      '--fit-tau on a classifier (evaluate)',
      () => ['evaluate', F['lenet']!, '--data', F['digitsLabelled']!, ...T, '--task', 'classification', '--fit-tau', F['digitsLabelled']!],
      /--fit-tau .* sets the model precision τ of regression outputs/,
    ],
    [
      '--batch-size with --masks',
      () => ['predict', F['co2']!, '--input', F['x']!, '--masks', F['masks']!, '--batch-size', '4'],
      /--masks .* replays fixed masks .* so --batch-size 4 cannot apply/,
    ],
    ['--samples with --masks', () => ['predict', F['co2']!, '--input', F['x']!, '--masks', F['masks']!, '--samples', '5'], /so --samples 5 cannot apply/],
    ['--seed with --masks', () => ['predict', F['co2']!, '--input', F['x']!, '--masks', F['masks']!, '--seed', '5'], /so --seed 5 cannot apply/],
    [
      '--mask-scope with --masks',
      () => ['predict', F['co2']!, '--input', F['x']!, '--masks', F['masks']!, '--mask-scope', 'point'],
      /so --mask-scope point cannot apply/,
    ],
    [
      '--spatial without --insert-dropout',
      () => P('--spatial'),
      /--spatial makes the masks of --insert-dropout P channel-wise, but --insert-dropout is missing/,
    ],
    [
      '--spatial on dense layers only',
      () => ['predict', F['co2Eval']!, '--input', F['x']!, ...T, '--insert-dropout', '0.1', '--spatial'],
      /(--spatial: every inserted site is on a dense layer|insertDropout\.spatial: Gemm .* has no spatial axes)/,
    ],
    ['--target on predict without --fit-tau', () => P('--target', 'y'), /--target y names the target column of the --fit-tau VALFILE, which is missing/],
    ['--rate naming no Dropout ratio input', () => P('--rate', 'foo=0.3'), /--rate foo=0\.3: 'foo' is not the ratio input of a Dropout node/],
    [
      '--insert-dropout for a tfjs model',
      () => ['predict', F['keras']!, '--input', F['x']!, ...T, '--insert-dropout', '0.1'],
      /--insert-dropout rewrites ONNX graphs, but '.*model\.json' goes to the tfjs backend/,
    ],
    [
      '--dropout-scaling for a tfjs model',
      () => ['evaluate', F['keras']!, '--data', F['data']!, ...T, '--dropout-scaling', 'none'],
      /--dropout-scaling rewrites ONNX graphs/,
    ],
    [
      '--ep the tfjs backend does not have',
      () => ['predict', F['keras']!, '--input', F['x']!, ...T, '--ep', 'cuda'],
      /--ep cuda: the tfjs backend .* has no execution provider 'cuda'; it runs on tensorflow, wasm, cpu/,
    ],
    ['--ep the onnx backend does not have', () => P('--ep', 'tpu'), /execution provider 'tpu' is not supported by the onnx backend/],
    [
      '--backend that is not registered (backends)',
      () => ['backends', '--backend', 'torch'],
      /--backend torch: backend 'torch' is not registered; registered: onnx, onnx-web, tfjs/,
    ],
  ];
  it.each(cases)(
    '%s',
    async (_name, argv, message) => {
      const r = await mcu(argv(), cleanCwd);
      failsNaming(r, message);
      expect(r.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
    },
    60_000,
  );

  it('the tfjs provider names the CLI checks are the tfjs backend’s', () => {
    expect([...TFJS_PROVIDERS]).toEqual([...TFJS_BACKENDS]);
  });
});

describe('README', () => {
  it('holds the flag table generated from OPTIONS', () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const m = /<!-- flags:begin[^>]*-->\n([\s\S]*?)<!-- flags:end -->/.exec(readme);
    expect(m, 'README.md needs the flag table between <!-- flags:begin --> and <!-- flags:end -->').not.toBeNull();
    expect(m![1], "README.md's flag table is out of date: run `npx -y pnpm@12.4.2 -r build && node packages/cli/scripts/flag-table.mjs`").toBe(
      flagTableMarkdown(),
    );
  });
});
