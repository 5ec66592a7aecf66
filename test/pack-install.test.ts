/**
 * Publishability: the public packages, packed as `pnpm publish` would pack them, install with
 * plain npm in a fresh project outside the workspace, and work there — the CLI on the bundled
 * example, `mcu --version`, a TypeScript consumer compiled against the installed types, and
 * the optional onnxruntime peers failing with an McuError that names the package to install.
 *
 * Needs the npm registry (or a warm npm cache) for the packages' dependencies; CI has it.
 * `pnpm test` builds first (`pnpm -r build`); this test packs those builds as they are.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '..');
const PUBLIC = ['core', 'onnx-proto', 'backend-onnx', 'backend-tfjs', 'format-caffe', 'plot', 'server', 'acquire', 'cli'] as const;
const PNPM = ['-y', 'pnpm@12.4.2'];
const EXAMPLE_MODEL = path.join(REPO, 'examples', 'co2_relu.preserve.onnx');
const EXAMPLE_INPUT = path.join(REPO, 'examples', 'co2-months.csv');

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(cmd: string, args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function describeRun(what: string, r: Run): string {
  return `${what} exited ${r.status}\n--- stdout (tail)\n${r.stdout.slice(-2000)}\n--- stderr (tail)\n${r.stderr.slice(-3000)}`;
}

/**
 * The environment of a user's shell, not of `pnpm test` in this workspace: pnpm/npx export
 * npm_config_local_prefix=<repo>, npm_package_json, PATH entries into <repo>/node_modules/.bin,
 * NODE_PATH and so on, with which npm would install into (or run binaries of, or require from) the
 * workspace.
 */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_cafile', 'npm_config_userconfig', 'npm_config_globalconfig']);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm|pnpm)_/i.test(k) && !keep.has(k.toLowerCase())) continue;
    // NODE_PATH: pnpm's bin shim of vitest exports folders of the workspace's node_modules/.pnpm,
    // where require() (@mcu/backend-onnx loads onnxruntime-node with it) finds the workspace's copy
    if (k === 'INIT_CWD' || k === 'NODE_OPTIONS' || k === 'NODE_PATH' || k.startsWith('VITEST')) continue;
    env[k] = v;
  }
  env['PATH'] = (process.env['PATH'] ?? '')
    .split(path.delimiter)
    .filter((p) => p !== '' && !isInside(p, REPO) && !p.includes(`${path.sep}_npx${path.sep}`))
    .join(path.delimiter);
  return { ...env, ...extra };
}

function isInside(p: string, dir: string): boolean {
  const rel = path.relative(dir, path.resolve(p));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

const pkgJson = (dir: string) => readJson(path.join(REPO, 'packages', dir, 'package.json'));

let work: string; // <tmp>/mcu-pack-XXXX: tarballs/ and app/
let app: string; // the fresh npm project
const tarballs = new Map<string, string>(); // package dir -> .tgz
const packed = new Map<string, Record<string, unknown>>(); // package dir -> packed package.json
const packedFiles = new Map<string, string[]>(); // package dir -> tarball entries
let installed: Run | undefined;
let installMs = 0;

describe('the public packages, packed and installed with npm', () => {
  beforeAll(async () => {
    for (const dir of PUBLIC) {
      const dist = path.join(REPO, 'packages', dir, 'dist', 'index.js');
      if (!fs.existsSync(dist)) throw new Error(`${dist} is missing: build first (npx -y pnpm@12.4.2 -r build; \`pnpm test\` does)`);
    }
    const tmp = fs.realpathSync(os.tmpdir());
    if (isInside(tmp, REPO)) throw new Error(`os.tmpdir() (${tmp}) is inside the workspace; this test needs a directory outside it (set TMPDIR)`);
    work = fs.mkdtempSync(path.join(tmp, 'mcu-pack-'));
    const dest = path.join(work, 'tarballs');
    fs.mkdirSync(dest);

    // 1. pnpm pack, which applies publishConfig and rewrites workspace:/catalog: specifiers.
    // Lifecycle scripts off: the packages were just built, and prepack's tsc would rewrite
    // dist/ while other test files run the CLI from it.
    const filters = PUBLIC.flatMap((d) => ['--filter', pkgJson(d)['name'] as string]);
    const pack = await run('npx', [...PNPM, '--config.ignore-scripts=true', '-r', ...filters, 'pack', '--pack-destination', dest], {
      cwd: REPO,
      env: { ...process.env },
    });
    if (pack.status !== 0) throw new Error(describeRun('pnpm -r pack', pack));
    for (const dir of PUBLIC) {
      const p = pkgJson(dir);
      const file = path.join(dest, `${(p['name'] as string).replace(/^@/, '').replace('/', '-')}-${p['version'] as string}.tgz`);
      if (!fs.existsSync(file)) throw new Error(`pnpm pack wrote no ${file}; it wrote: ${fs.readdirSync(dest).join(', ')}\n${describeRun('pnpm pack', pack)}`);
      tarballs.set(dir, file);
      const list = await run('tar', ['-tzf', file], { cwd: work });
      packedFiles.set(dir, list.stdout.split('\n').filter(Boolean));
      const manifest = await run('tar', ['-xzOf', file, 'package/package.json'], { cwd: work });
      packed.set(dir, JSON.parse(manifest.stdout) as Record<string, unknown>);
    }

    // 2. A fresh npm project outside the workspace; install the tarballs as a user would.
    app = path.join(work, 'app');
    fs.mkdirSync(app);
    const init = await run('npm', ['init', '-y'], { cwd: app });
    if (init.status !== 0) throw new Error(describeRun('npm init -y', init));
    // onnxruntime-node's postinstall downloads the CUDA provider from nuget.org on linux/x64
    // unless told otherwise (the CPU runtime is in its npm tarball). ONNXRUNTIME_NODE_INSTALL=skip
    // is its documented switch for that download only; every other install script still runs.
    const t0 = Date.now();
    installed = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...PUBLIC.map((d) => tarballs.get(d)!)], {
      cwd: app,
      env: cleanEnv({ ONNXRUNTIME_NODE_INSTALL: 'skip' }),
      timeoutMs: 150_000,
    });
    installMs = Date.now() - t0;
    if (installed.status !== 0) {
      const ping = await run('npm', ['ping'], { cwd: app, timeoutMs: 30_000 });
      throw new Error(
        `npm install of the packed tarballs failed (${installMs} ms).` +
          (ping.status === 0
            ? ' The npm registry answers `npm ping`, so this is a packaging or dependency problem:'
            : ' The npm registry cannot be reached (`npm ping` failed): this test needs registry.npmjs.org or an npm cache holding every dependency. npm ping said:\n' +
              (ping.stderr || ping.stdout).slice(-1500) +
              '\n') +
          '\n' +
          describeRun('npm install', installed),
      );
    }
  }, 240_000);

  afterAll(() => {
    if (work !== undefined && process.env['MCU_KEEP_PACK_DIR'] === undefined) fs.rmSync(work, { recursive: true, force: true });
  });

  it('packs one version, with no workspace:/catalog: protocol and no source export left', () => {
    const version = pkgJson('cli')['version'];
    expect(version).toBe('0.1.0');
    for (const dir of PUBLIC) {
      const p = packed.get(dir)!;
      const text = JSON.stringify(p);
      expect(text, `${dir}: packed package.json`).not.toMatch(/workspace:|catalog:/);
      expect(p['version'], dir).toBe(version);
      expect(p['private'], dir).toBeUndefined();
      for (const field of ['description', 'keywords', 'repository', 'homepage', 'bugs', 'license', 'author', 'engines', 'main', 'types', 'files']) {
        expect(p[field], `${dir}: ${field}`).toBeDefined();
      }
      expect(p['license'], dir).toBe('MIT');
      expect((p['repository'] as { directory?: string }).directory, dir).toBe(`packages/${dir}`);
      expect((p['engines'] as { node?: string }).node, dir).toBe('>=20');
      // publishConfig.exports replaced exports: dist (or a data file at the root, e.g. onnx-proto's onnx.proto), no `source` condition into src/
      expect(text, `${dir}: exports`).not.toMatch(/"source"|\.\/src\//);
      const exp = p['exports'] as Record<string, unknown>;
      for (const [sub, target] of Object.entries(exp)) {
        const targets = typeof target === 'string' ? [target] : Object.values(target as Record<string, string>);
        for (const t of targets) expect(t, `${dir} exports['${sub}']`).toMatch(/^\.\/(dist\/|package\.json$|[\w-]+\.proto$)/);
        for (const t of targets)
          expect(
            (p['files'] as string[]).some((f) => t === `./${f}` || t.startsWith(`./${f}/`)) || t === './package.json',
            `${dir} exports['${sub}'] is published`,
          ).toBe(true);
      }
      // @mcu/* dependencies pinned to the one version
      for (const [name, spec] of Object.entries({ ...(p['dependencies'] as Record<string, string> | undefined) })) {
        if (name.startsWith('@mcu/')) expect(spec, `${dir} -> ${name}`).toBe(version);
      }
      // what the tarball holds
      const files = packedFiles.get(dir)!;
      for (const f of ['package/package.json', 'package/README.md', 'package/LICENSE', 'package/dist/index.js', 'package/dist/index.d.ts']) {
        expect(files, `${dir}: ${f}`).toContain(f);
      }
      expect(
        files.filter((f) => f.startsWith('package/src/') || f.startsWith('package/test/')),
        dir,
      ).toEqual([]);
      // the workspace package keeps a prepack that builds, for a publish from a clean clone
      expect((pkgJson(dir)['scripts'] as Record<string, string>)['prepack'], `${dir}: prepack`).toMatch(/\btsc\b/);
    }
    expect(packedFiles.get('cli')).toContain('package/bin/mcu.js');
    expect(packedFiles.get('format-caffe')!.some((f) => f.startsWith('package/schema/'))).toBe(true);
    // onnxruntime: optional peers of the backend, dependencies of the CLI that composes it
    const onnx = packed.get('backend-onnx')!;
    expect(Object.keys(onnx['peerDependencies'] as object).sort()).toEqual(['onnxruntime-node', 'onnxruntime-web']);
    expect(onnx['peerDependenciesMeta']).toEqual({ 'onnxruntime-node': { optional: true }, 'onnxruntime-web': { optional: true } });
    expect(Object.keys(packed.get('cli')!['dependencies'] as object)).toEqual(expect.arrayContaining(['onnxruntime-node', 'onnxruntime-web']));
    // the version the results report (core), where it is written down, is the same one
    const coreVersion = path.join(REPO, 'packages', 'core', 'src', 'version.ts');
    const literal = fs.existsSync(coreVersion) ? /VERSION\s*=\s*'([^']+)'/.exec(fs.readFileSync(coreVersion, 'utf8'))?.[1] : undefined;
    if (literal !== undefined) expect(literal, 'packages/core/src/version.ts').toBe(version);
  });

  it('runs `npx mcu predict` on the bundled example and `npx mcu --version`', async () => {
    console.log(`[pack-install] npm install of ${PUBLIC.length} tarballs: ${(installMs / 1000).toFixed(1)} s`);
    const r = await run('npx', ['--no', '--', 'mcu', 'predict', EXAMPLE_MODEL, '--input', EXAMPLE_INPUT, '--samples', '20'], { cwd: app, timeoutMs: 60_000 });
    expect(r.status, describeRun('mcu predict', r)).toBe(0);
    const out = JSON.parse(r.stdout) as {
      meta: { samples: number; backend: string; version?: string };
      outputs: Record<string, { task: string; mean: number[][]; variance: number[][] }>;
    };
    expect(out.meta.samples).toBe(20);
    expect(out.meta.backend).toBe('onnx');
    if (out.meta.version !== undefined) expect(out.meta.version).toBe('0.1.0');
    const y = out.outputs['y']!;
    expect(y.task).toBe('regression');
    expect(y.mean).toHaveLength(13);
    expect(y.variance.flat().every((v) => Number.isFinite(v) && v >= 0)).toBe(true);

    const v = await run('npx', ['--no', '--', 'mcu', '--version'], { cwd: app, timeoutMs: 30_000 });
    expect(v.status, describeRun('mcu --version', v)).toBe(0);
    expect(v.stdout).toBe('mcu 0.1.0\n');
    // …and it is the installed copy that answered, not the workspace's
    expect(isInside(fs.realpathSync(path.join(app, 'node_modules', '@mcu', 'cli')), REPO)).toBe(false);
  }, 90_000);

  it('runs `npx mcu acquire` on two worker threads (the installed worker-thread file) and its help and the worker\u2019s', async () => {
    const argv = ['acquire', EXAMPLE_MODEL, '--pool', EXAMPLE_INPUT, '--k', '3', '--heuristic', 'std', '--samples', '10', '--block-rows', '4'];
    const one = await run('npx', ['--no', '--', 'mcu', ...argv, '--workers', '1'], { cwd: app, timeoutMs: 60_000 });
    expect(one.status, describeRun('mcu acquire --workers 1', one)).toBe(0);
    const two = await run('npx', ['--no', '--', 'mcu', ...argv, '--workers', '2'], { cwd: app, timeoutMs: 60_000 });
    expect(two.status, describeRun('mcu acquire --workers 2', two)).toBe(0);
    expect(two.stdout).toBe(one.stdout);
    const sel = JSON.parse(one.stdout) as { heuristic: string; poolRows: number; selected: unknown[] };
    expect([sel.heuristic, sel.poolRows, sel.selected.length]).toEqual(['std', 13, 3]);
    for (const cmd of ['acquire', 'worker']) {
      const h = await run('npx', ['--no', '--', 'mcu', cmd, '--help'], { cwd: app, timeoutMs: 30_000 });
      expect(h.status, describeRun(`mcu ${cmd} --help`, h)).toBe(0);
      expect(h.stdout).toMatch(new RegExp(`^Usage: mcu ${cmd} MODEL`));
    }
  }, 120_000);

  it('compiles a TypeScript consumer against the installed packages\u2019 types', async () => {
    const src = path.join(app, 'consumer.mts');
    fs.writeFileSync(
      src,
      [
        "import { createMcu, RegressionEstimator } from '@mcu/core';",
        "import { onnxModule } from '@mcu/backend-onnx';",
        "import { onnxWebModule } from '@mcu/backend-onnx/web';",
        '',
        'const xs = new Float32Array([0.1, 0.2, 0.3]);',
        'const n = xs.length;',
        "const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });",
        "const model = await mcu.load({ kind: 'path', path: 'model.onnx' });",
        "const est = new RegressionEstimator({ output: 'y', tau: 50 });",
        "await mcu.engine.run(model, { x: { dtype: 'float32', data: xs, dims: [n, 1] } }, { samples: 1000, seed: 1, estimators: [est] });",
        'const { mean, variance } = est.result();',
        'console.log(mean, variance);',
        "const web = createMcu({ modules: [onnxWebModule({ wasmPaths: '/ort/' })] });",
        'console.log(web);',
        '',
      ].join('\n'),
    );
    const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const typeRoots = path.join(REPO, 'node_modules', '@types'); // @types/node, as a Node project has it
    const r = await run(
      process.execPath,
      [
        tsc,
        '--noEmit',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--strict',
        '--target',
        'es2022',
        '--typeRoots',
        typeRoots,
        '--types',
        'node',
        src,
      ],
      {
        cwd: app,
        timeoutMs: 90_000,
      },
    );
    expect(r.status, describeRun('tsc (consumer)', r)).toBe(0);
  }, 120_000);

  it('a missing optional onnxruntime peer is an McuError naming the package', async () => {
    const script = path.join(app, 'peer-check.mjs');
    fs.writeFileSync(
      script,
      [
        "import { readFileSync } from 'node:fs';",
        "import { createMcu, McuError } from '@mcu/core';",
        "import { onnxModule } from '@mcu/backend-onnx';",
        "import { onnxWebModule } from '@mcu/backend-onnx/web';",
        "const web = process.argv[2] === 'web';",
        "const mcu = createMcu({ backends: [web ? 'onnx-web' : 'onnx'], modules: [web ? onnxWebModule() : onnxModule] });",
        'try {',
        "  await mcu.load({ kind: 'bytes', bytes: new Uint8Array(readFileSync(process.argv[3])) });",
        '  console.log(JSON.stringify({ loaded: true }));',
        '} catch (e) {',
        '  console.log(JSON.stringify({ loaded: false, mcuError: e instanceof McuError, code: e.code, message: e.message }));',
        '}',
        '',
      ].join('\n'),
    );
    for (const [runtime, which] of [
      ['onnxruntime-node', 'node'],
      ['onnxruntime-web', 'web'],
    ] as const) {
      const dir = path.join(app, 'node_modules', runtime);
      const hidden = path.join(app, 'node_modules', `.hidden-${runtime}`);
      fs.renameSync(dir, hidden); // as if the user had not installed this optional peer
      try {
        const r = await run(process.execPath, [script, which, EXAMPLE_MODEL], { cwd: app, timeoutMs: 60_000 });
        expect(r.status, describeRun(`peer check (${runtime} missing)`, r)).toBe(0);
        const res = JSON.parse(r.stdout) as { loaded: boolean; mcuError?: boolean; code?: string; message?: string };
        expect(res.loaded, runtime).toBe(false);
        expect(res.mcuError, runtime).toBe(true);
        expect(res.code, runtime).toBe('E_BACKEND');
        expect(res.message, runtime).toContain(`'${runtime}'`);
        expect(res.message, runtime).toContain(`install it next to it (npm install ${runtime}`);
      } finally {
        fs.renameSync(hidden, dir);
      }
      // with it back, the same script loads the model
      const ok = await run(process.execPath, [script, which, EXAMPLE_MODEL], { cwd: app, timeoutMs: 60_000 });
      expect(JSON.parse(ok.stdout), describeRun(`peer check (${runtime} present)`, ok)).toEqual({ loaded: true });
    }
  }, 120_000);
});
