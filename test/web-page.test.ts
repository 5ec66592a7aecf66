// The browser page (examples/web): built with examples/web/build.mjs, served by
// examples/web/serve.mjs on 127.0.0.1 and driven in headless Chromium with playwright-core. The
// CO2 example's numbers shown in the page (onnxruntime-web, wasm, in a worker) must be those of
// core `predict` in Node on onnxruntime-node for the same rows, T, seed and τ to float32 round-off;
// Cancel during a long run must end it as cancelled (E_ABORTED); the page is screenshotted.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium as playwright, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMcu, predict, type ClassificationPrediction, type RegressionPrediction } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';
import { buildPage } from '../examples/web/build.mjs';
import { serveStatic } from '../examples/web/serve.mjs';
import { REPO_ROOT, requireBuiltCli } from './helpers/cli.js';
import { findChromium } from './helpers/browser.js';

const T = 100;
const SEED = 7;
const CO2_TAU = 50;

interface Shown {
  meta: { backend: string; executionProvider: string; samples: number; seed: number; tau: number | null; warnings?: string[] };
  rows: number;
  outputs: Record<
    string,
    { task: string; dims: number[]; mean?: number[]; std?: number[]; probs?: number[][]; entropy?: number[]; mutualInformation?: number[] }
  >;
}

const chromium = findChromium();
if (chromium === undefined && process.env.CI) {
  throw new Error("test/web-page.test.ts: no Chromium in CI (/usr/bin/chromium); .ci/run installs Debian's chromium — check that step");
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe.skipIf(chromium === undefined)(
  `the browser page examples/web in headless Chromium${chromium === undefined ? ' (skipped: no Chromium; apt-get install chromium)' : ''}`,
  () => {
    let browser: Browser;
    let page: Page;
    let server: { url: string; close: () => Promise<void> };
    let dist: string | undefined;
    const errors: string[] = [];

    const settled = () =>
      page.waitForFunction(() => ['idle', 'done', 'error', 'cancelled'].includes(document.getElementById('status')!.dataset.state!), null, {
        timeout: 30_000,
      });
    const status = async () => ({ state: await page.getAttribute('#status', 'data-state'), text: await page.textContent('#status') });
    const runWith = async (samples: number, seed: number) => {
      await page.fill('#samples', String(samples));
      await page.fill('#seed', String(seed));
      await page.click('#run');
    };

    beforeAll(async () => {
      requireBuiltCli();
      dist = await buildPage(mkdtempSync(path.join(os.tmpdir(), 'mcu-web-dist-')));
      server = await serveStatic(dist);
      browser = await playwright.launch({ executablePath: chromium!, args: ['--no-sandbox'] });
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(server.url);
      await settled(); // the CO2 example loads and is inspected on its own
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await server?.close();
      if (dist !== undefined) rmSync(dist, { recursive: true, force: true }); // 43 MB, most of it onnxruntime-web's .wasm
    });

    it('shows the inspect summary of the CO2 example (wasm, four dropout sites)', async () => {
      expect(await status()).toEqual({ state: 'idle', text: 'ready' });
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      const summary = await page.textContent('#summary');
      expect(summary).toContain('onnx-web');
      expect(summary).toContain('execution provider wasm');
      expect(summary).toContain('self-check passed');
      expect(await page.getAttribute('#summary', 'data-sites')).toBe('4');
      expect(await page.textContent('.note')).toMatch(/webgpu.*GPU adapter.*else on wasm/s);
    });

    it(`runs the CO2 example with T = ${T}, seed ${SEED} and agrees with predict on onnxruntime-node to 1e-5`, async () => {
      await runWith(T, SEED);
      await settled();
      {
        const s = await status();
        expect(s.state, s.text ?? '').toBe('done');
      }
      const shown = JSON.parse((await page.textContent('#result'))!) as Shown;
      // headless Chromium here has no GPU adapter: webgpu (listed first where navigator.gpu exists) falls back to wasm, saying so
      expect(shown.meta).toMatchObject({ backend: 'onnx-web', executionProvider: 'wasm', samples: T, seed: SEED, tau: CO2_TAU });
      for (const w of shown.meta.warnings ?? []) expect(w).toMatch(/execution provider fallback .*webgpu.*running on 'wasm'/);
      const rows = JSON.parse(await page.inputValue('#rows')) as number[][];
      expect(shown.rows).toBe(rows.length);

      const mcu = createMcu({ modules: [onnxModule] });
      const node = await predict(path.join(REPO_ROOT, 'examples/co2_relu.preserve.onnx'), rows, { mcu, samples: T, seed: SEED, tau: CO2_TAU });
      await mcu.dispose();
      expect(node.meta.backend).toBe('onnx');
      const y = node.outputs.y as RegressionPrediction;
      const web = shown.outputs.y!;
      const meanDiff = maxAbsDiff(web.mean!, y.mean);
      const stdDiff = maxAbsDiff(web.std!, y.std);
      console.log(
        `web page vs onnxruntime-node, CO2, ${rows.length} rows, T = ${T}, seed ${SEED}: max |Δmean| = ${meanDiff.toExponential(2)}, max |Δstd| = ${stdDiff.toExponential(2)}`,
      );
      expect(meanDiff).toBeLessThan(1e-5);
      expect(stdDiff).toBeLessThan(1e-5);
      expect(await page.locator('#figure svg').count()).toBe(1);

      const shot = path.join(mkdtempSync(path.join(os.tmpdir(), 'mcu-web-page-')), 'co2.png');
      await page.screenshot({ path: shot, fullPage: true });
      const png = readFileSync(shot);
      expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(statSync(shot).size).toBeGreaterThan(10_000);
      console.log(`web page screenshot (CO2 band plot): ${shot} (${statSync(shot).size} bytes)`);
    }, 30_000);

    it('cancels a long run (T = 100000) from the Cancel button: the page says cancelled', async () => {
      await runWith(100_000, SEED);
      await page.waitForFunction(() => (document.getElementById('progress') as HTMLProgressElement).value > 0, null, { timeout: 20_000 });
      expect(await page.isEnabled('#cancel')).toBe(true);
      await page.click('#cancel');
      await settled();
      const s = await status();
      expect(s.state).toBe('cancelled');
      expect(s.text).toMatch(/^cancelled \(the run was cancelled after \d+ of 100000 samples\)$/);
      expect(await page.isEnabled('#run')).toBe(true);
      expect(await page.isEnabled('#cancel')).toBe(false);
    }, 30_000);

    it('names what went wrong in the page: rows of the wrong size, and rows that are not JSON', async () => {
      const rows = await page.inputValue('#rows');
      await page.fill('#rows', '[[1, 2]]');
      await page.click('#run');
      await settled();
      const wrong = await status();
      expect(wrong.state).toBe('error');
      expect(wrong.text).toMatch(/^E_INPUT: .*'x'/);
      await page.fill('#rows', '[[1],');
      await page.click('#run');
      await settled();
      const notJson = await status();
      expect(notJson.state).toBe('error');
      expect(notJson.text).toMatch(/^the input rows are not JSON: /);
      await page.fill('#rows', rows);
    });

    it("takes a model of one's own from the file chooser: inspects it and offers one row of its input size", async () => {
      await page.setInputFiles('#file', path.join(REPO_ROOT, 'examples/co2_relu.preserve.onnx'));
      await page.waitForFunction(() => document.getElementById('model-name')!.textContent === 'co2_relu.preserve.onnx');
      await settled();
      expect(await status()).toEqual({ state: 'idle', text: 'ready' });
      expect(await page.getAttribute('#summary', 'data-sites')).toBe('4');
      expect(JSON.parse(await page.inputValue('#rows'))).toEqual([[0]]);
      expect([await page.inputValue('#task'), await page.inputValue('#tau')]).toEqual(['auto', '']);
      await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a model') });
      await page.waitForFunction(() => document.getElementById('status')!.dataset.state === 'error');
      expect((await status()).text).toBe("'notes.txt' is not an .onnx file");
    });

    it('runs the LeNet example (rotated "1"s): class probabilities, entropy and mutual information as predict on onnxruntime-node', async () => {
      await page.selectOption('#example', 'lenet');
      await page.click('#load-example');
      await settled();
      expect(await status()).toEqual({ state: 'idle', text: 'ready' });
      await runWith(T, SEED);
      await settled();
      {
        const s = await status();
        expect(s.state, s.text ?? '').toBe('done');
      }
      const shown = JSON.parse((await page.textContent('#result'))!) as Shown;
      const [name, web] = Object.entries(shown.outputs)[0]!;
      expect(web.task).toBe('classification');
      const rows = JSON.parse(await page.inputValue('#rows')) as number[][];
      const bytes = new Uint8Array(await (await fetch(`${server.url}models/lenet.preserve.onnx`)).arrayBuffer());
      const mcu = createMcu({ modules: [onnxModule] });
      const node = await predict(bytes, rows, { mcu, samples: T, seed: SEED, task: 'classification' });
      await mcu.dispose();
      const c = node.outputs[name] as ClassificationPrediction;
      const probsDiff = maxAbsDiff(web.probs!.flat(), c.probs);
      const entropyDiff = maxAbsDiff(web.entropy!, c.entropy);
      const miDiff = maxAbsDiff(web.mutualInformation!, c.mutualInformation);
      console.log(
        `web page vs onnxruntime-node, LeNet, ${rows.length} images, T = ${T}: max |Δp| = ${probsDiff.toExponential(2)}, |Δentropy| = ${entropyDiff.toExponential(2)}, |ΔMI| = ${miDiff.toExponential(2)}`,
      );
      expect(probsDiff).toBeLessThan(1e-5);
      expect(entropyDiff).toBeLessThan(1e-4);
      expect(miDiff).toBeLessThan(1e-4);
      expect(await page.locator('#table tbody tr').count()).toBe(rows.length);
      const shot = path.join(mkdtempSync(path.join(os.tmpdir(), 'mcu-web-page-')), 'lenet.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`web page screenshot (LeNet class probabilities): ${shot} (${statSync(shot).size} bytes)`);
      expect(errors).toEqual([]);
    }, 30_000);
  },
);
