// The flag walk's cases (test/cli-flags.test.ts) for `mcu acquire` and `mcu worker`: for each
// option either command takes, two in-process calls and what must differ between them. The
// worker cases run against a real redis-server (test/helpers/redis.ts) on which an in-process
// coordinator (`acquireOnQueue`) waits with one run of model A: each `mcu worker` call holds
// model B, takes a shard, gives it back and stops (exit 2) — so a worker call returns, and
// what it printed on the way (its queue, concurrency, lock, refusal) shows the flag's effect.
import path from 'node:path';
import { acquireOnQueue } from '@mcu/acquire';
import { expect } from 'vitest';
import { mcu, show, type InProcessRun } from './in-process.js';
import { freePort, startRedis, type RedisServer } from './redis.js';
import { writeClassifier, writePool } from './redis-pool.js';

/** One case of the walk (the shape of cli-flags.test.ts's Effect). */
export interface FlagEffect {
  readonly base: () => string[];
  readonly with: () => string[];
  readonly check: (base: InProcessRun, withIt: InProcessRun) => void | Promise<void>;
  readonly cwd?: () => string;
}

export type QueueCommand = 'acquire' | 'worker';

/** What the walk's beforeAll made for its other cases, used here too. */
export interface WalkFiles {
  /** co2_relu (one output, regression) and its 13 months as CSV. */
  readonly co2: string;
  readonly co2Csv: string;
  /** co2_relu with a second output y2. */
  readonly twoOut: string;
  /** A folder whose mcu.config.json is bad (samples 0), and a good config file (samples 7). */
  readonly badConfigCwd: string;
  readonly goodConfig: string;
}

export interface QueueWalk {
  readonly model: string;
  readonly other: string;
  readonly pool: string;
  readonly narrow: string;
  readonly queue: string;
  readonly unreachable: string;
  stop(): Promise<void>;
}

/** Start Redis, write the models and pools, and leave one run of `model` waiting on the queue. */
export async function startQueueWalk(dir: string): Promise<QueueWalk> {
  const redis: RedisServer = await startRedis();
  const model = writeClassifier(path.join(dir, 'walk-a.onnx'), 21);
  const other = writeClassifier(path.join(dir, 'walk-b.onnx'), 22);
  const pool = writePool(path.join(dir, 'walk-pool.npy'), 300, 9, 23);
  const narrow = writePool(path.join(dir, 'walk-narrow.npy'), 300, 8, 23);
  const queue = `${redis.url}?queue=flagwalk`;
  const unreachable = `redis://127.0.0.1:${await freePort()}`;
  const ac = new AbortController();
  const waiting = acquireOnQueue({
    model: { path: model },
    pool: { path: pool },
    heuristic: 'bald',
    k: 3,
    samples: 2,
    seed: 0,
    blockRows: 64,
    queue,
    signal: ac.signal,
  });
  waiting.catch(() => undefined);
  return {
    model,
    other,
    pool,
    narrow,
    queue,
    unreachable,
    async stop() {
      ac.abort();
      await waiting.catch(() => undefined);
      await redis.stop();
    },
  };
}

interface Selection {
  heuristic: string;
  k: number;
  samples: number;
  seed: number;
  scope: string;
  blockRows: number;
  poolRows: number;
  selected: { index: number; score: number }[];
}

const ok = (r: InProcessRun): void => expect(r.code, show(r)).toBe(0);
const selection = (r: InProcessRun): Selection => {
  ok(r);
  return JSON.parse(r.stdout) as Selection;
};
const fails = (r: InProcessRun, code: 1 | 2, re: RegExp): void => {
  expect(r.code, show(r)).toBe(code);
  expect(r.stdout, show(r)).toBe('');
  expect(r.stderr, show(r)).toMatch(re);
};
const without = (args: string[], flag: string): string[] => {
  const i = args.indexOf(flag);
  return i < 0 ? args : [...args.slice(0, i), ...args.slice(i + 2)];
};
const debugPlan = (r: InProcessRun): Record<string, unknown> => {
  const line = r.stderr.split('\n').find((l) => l.startsWith('mcu: debug: plan '));
  expect(line, show(r)).toBeDefined();
  return JSON.parse(line!.slice('mcu: debug: plan '.length)) as Record<string, unknown>;
};
/** A worker call's end: it gave the shard back (another model) and stopped with exit 2. */
const refusedModel = (r: InProcessRun): void =>
  fails(r, 2, /^mcu: worker: run \w+ scores model sha256:[0-9a-f]{64}, but this worker's MODEL .*walk-b\.onnx is sha256:/m);

/** The walk's cases of acquire and worker, by option. */
export function queueFlagEffects(
  files: () => WalkFiles,
  walk: () => QueueWalk,
  outFile: () => string,
): Record<string, Partial<Record<QueueCommand, FlagEffect>>> {
  const AQ = (...extra: string[]) => [
    'acquire',
    walk().model,
    '--pool',
    walk().pool,
    '--k',
    '5',
    '--samples',
    '4',
    '--workers',
    '1',
    '--block-rows',
    '64',
    ...extra,
  ];
  const STD = (...extra: string[]) => [
    'acquire',
    files().co2,
    '--pool',
    files().co2Csv,
    '--k',
    '3',
    '--heuristic',
    'std',
    '--samples',
    '10',
    '--workers',
    '1',
    '--block-rows',
    '4',
    ...extra,
  ];
  const WQ = (...extra: string[]) => ['worker', walk().other, '--queue', walk().queue, '--lock-ms', '1000', ...extra];
  const waitingLine = (r: InProcessRun): string => r.stderr.split('\n').find((l) => l.startsWith('mcu: worker: waiting for shards')) ?? '';
  return {
    pool: {
      acquire: {
        base: () => without(AQ(), '--pool'),
        with: () => AQ(),
        check: (b, w) => {
          fails(b, 2, /acquire: missing --pool FILE/);
          expect(selection(w).poolRows).toBe(300);
        },
      },
      worker: {
        base: () => WQ(),
        with: () => WQ('--pool', walk().narrow),
        check: (b, w) => {
          refusedModel(b);
          fails(w, 2, /^mcu: worker: the pool .*walk-narrow\.npy here is 300 × 8 .* but run \w+'s pool .*walk-pool\.npy is 300 × 9/m);
        },
      },
    },
    k: {
      acquire: {
        base: () => without(AQ(), '--k'),
        with: () => AQ(),
        check: (b, w) => {
          fails(b, 2, /acquire: missing --k K/);
          expect(selection(w).selected).toHaveLength(5);
        },
      },
    },
    heuristic: {
      acquire: {
        base: () => AQ(),
        with: () => AQ('--heuristic', 'entropy'),
        check: (b, w) => {
          expect([selection(b).heuristic, selection(w).heuristic]).toEqual(['bald', 'entropy']);
          expect(selection(w).selected).not.toEqual(selection(b).selected);
        },
      },
    },
    candidates: {
      acquire: {
        base: () => AQ('--heuristic', 'batchbald'),
        with: () => AQ('--heuristic', 'batchbald', '--candidates', '5'),
        check: async (b, w) => {
          ok(b);
          // with as many candidates as k, BatchBALD picks exactly the k rows of highest BALD
          const bald = selection(await mcu(AQ(), path.dirname(walk().pool)));
          const picked = selection(w).selected.map((s) => s.index);
          expect([...picked].sort((x, y) => x - y)).toEqual(bald.selected.map((s) => s.index).sort((x, y) => x - y));
        },
      },
    },
    workers: {
      acquire: {
        base: () => AQ(),
        with: () => [...without(AQ(), '--workers'), '--workers', '2'],
        check: (b, w) => {
          // the same bytes on two threads; the summary line says where it ran
          expect(selection(w)).toEqual(selection(b));
          expect(w.stdout).toBe(b.stdout);
          expect([/in this thread/.test(b.stderr), /on 2 worker threads/.test(w.stderr)]).toEqual([true, true]);
        },
      },
    },
    shardRows: {
      acquire: {
        base: () => AQ('--debug'),
        with: () => AQ('--debug', '--shard-rows', '128'),
        check: (b, w) => {
          expect(w.stdout).toBe(b.stdout);
          expect([(debugPlan(b)['acquire'] as { shardRows?: number }).shardRows, (debugPlan(w)['acquire'] as { shardRows?: number }).shardRows]).toEqual([
            undefined,
            128,
          ]);
        },
      },
    },
    blockRows: {
      acquire: {
        base: () => without(AQ(), '--block-rows'),
        with: () => AQ(),
        check: (b, w) => expect([selection(b).blockRows, selection(w).blockRows]).toEqual([1024, 64]),
      },
    },
    queueUrl: {
      acquire: {
        base: () => AQ(),
        // (--workers is this machine's threads: a queued run refuses it)
        with: () => [...without(AQ(), '--workers'), '--queue', walk().unreachable],
        check: (b, w) => {
          ok(b);
          fails(w, 1, new RegExp(`^mcu: the job queue's Redis at ${walk().unreachable.replace(/[.]/g, '\\.')} is not reachable`));
        },
      },
      worker: {
        base: () => without(WQ(), '--queue'),
        with: () => WQ(),
        check: (b, w) => {
          fails(b, 2, /worker: missing --queue redis:\/\/HOST:PORT/);
          refusedModel(w);
          expect(waitingLine(w)).toMatch(/waiting for shards on redis:\/\/127\.0\.0\.1:\d+\?queue=flagwalk queue flagwalk/);
        },
      },
    },
    concurrency: {
      worker: {
        base: () => WQ(),
        with: () => WQ('--concurrency', '3'),
        check: (b, w) => {
          refusedModel(b);
          refusedModel(w);
          expect([waitingLine(b), waitingLine(w)].map((l) => /concurrency (\d+)/.exec(l)?.[1])).toEqual(['1', '3']);
        },
      },
    },
    lockMs: {
      worker: {
        base: () => without(WQ(), '--lock-ms'),
        with: () => WQ(),
        check: (b, w) => {
          refusedModel(b);
          refusedModel(w);
          expect([waitingLine(b), waitingLine(w)].map((l) => /lock (\d+) ms/.exec(l)?.[1])).toEqual(['30000', '1000']);
        },
      },
    },
    samples: {
      acquire: {
        base: () => without(AQ(), '--samples'),
        with: () => AQ(),
        check: (b, w) => expect([selection(b).samples, selection(w).samples]).toEqual([100, 4]),
      },
    },
    seed: {
      acquire: {
        base: () => AQ(),
        with: () => AQ('--seed', '3'),
        check: (b, w) => {
          expect([selection(b).seed, selection(w).seed]).toEqual([0, 3]);
          expect(selection(w).selected).not.toEqual(selection(b).selected);
        },
      },
    },
    maskScope: {
      acquire: {
        base: () => AQ(),
        with: () => AQ('--mask-scope', 'point'),
        check: (b, w) => {
          expect([selection(b).scope, selection(w).scope]).toEqual(['sample', 'point']);
          expect(selection(w).selected).not.toEqual(selection(b).selected);
        },
      },
    },
    tau: {
      acquire: {
        base: () => STD(),
        with: () => STD('--tau', '1'),
        check: (b, w) => {
          // std with τ: sqrt(var + 1/τ) > sqrt(var) for every row
          const [sb, sw] = [selection(b).selected, selection(w).selected];
          expect(sw.every((s) => s.score > 1)).toBe(true);
          expect(sb.every((s) => s.score < 1)).toBe(true);
        },
      },
    },
    backend: {
      acquire: {
        base: () => AQ(),
        with: () => AQ('--backend', 'tfjs'),
        check: (b, w) => {
          ok(b);
          fails(w, 2, /backend 'tfjs' is not registered/);
        },
      },
    },
    output: {
      acquire: {
        base: () => ['acquire', files().twoOut, '--pool', files().co2Csv, '--k', '3', '--heuristic', 'std', '--samples', '10', '--workers', '1'],
        with: () => [
          'acquire',
          files().twoOut,
          '--pool',
          files().co2Csv,
          '--k',
          '3',
          '--heuristic',
          'std',
          '--samples',
          '10',
          '--workers',
          '1',
          '--output',
          'y2',
        ],
        check: (b, w) => {
          fails(b, 2, /the model has 2 outputs \(y, y2\): say which one to score/);
          expect(selection(w).selected).toHaveLength(3);
        },
      },
    },
    out: {
      acquire: {
        base: () => AQ(),
        with: () => AQ('--out', outFile()),
        check: async (b, w) => {
          ok(b);
          ok(w);
          expect(w.stdout).toBe('');
          const { readFileSync } = await import('node:fs');
          expect(readFileSync(w.argv[w.argv.length - 1]!, 'utf8')).toBe(b.stdout);
        },
      },
    },
    format: {
      acquire: {
        base: () => AQ(),
        with: () => AQ('--format', 'csv'),
        check: (b, w) => {
          const json = selection(b);
          ok(w);
          expect(w.stdout.split('\n')[0]).toBe('rank,index,score');
          expect(
            w.stdout
              .trim()
              .split('\n')
              .slice(1)
              .map((l) => Number(l.split(',')[1])),
          ).toEqual(json.selected.map((s) => s.index));
        },
      },
    },
    quiet: {
      acquire: {
        base: () => AQ(),
        with: () => AQ('--quiet'),
        check: (b, w) => {
          expect(b.stderr).toMatch(/^mcu: acquire: selected 5 of 300 rows \(bald\) in [\d.]+ s, \d+ rows\/s in this thread\n$/);
          ok(w);
          expect(w.stderr).toBe('');
          expect(w.stdout).toBe(b.stdout);
        },
      },
    },
    config: {
      acquire: {
        cwd: () => files().badConfigCwd,
        base: () => without(AQ(), '--samples'),
        with: () => [...without(AQ(), '--samples'), '--config', files().goodConfig],
        check: (b, w) => {
          fails(b, 2, /mcu\.config\.json: 'samples' expects an integer ≥ 1, got 0/);
          expect(selection(w).samples).toBe(7);
        },
      },
      worker: {
        cwd: () => files().badConfigCwd,
        base: () => WQ(),
        with: () => WQ('--config', files().goodConfig),
        check: (b, w) => {
          fails(b, 2, /mcu\.config\.json: 'samples' expects an integer ≥ 1, got 0/);
          refusedModel(w);
        },
      },
    },
    debug: {
      acquire: {
        base: () => AQ(),
        with: () => AQ('--debug'),
        check: (b, w) => {
          expect(b.stderr).not.toMatch(/mcu: debug:/);
          expect(debugPlan(w)['acquire']).toEqual({ pool: walk().pool, k: 5, heuristic: 'bald', workers: 1, blockRows: 64 });
        },
      },
      worker: {
        base: () => WQ(),
        with: () => WQ('--debug'),
        check: (b, w) => {
          refusedModel(b);
          expect(b.stderr).not.toMatch(/mcu: debug:/);
          expect(debugPlan(w)['worker']).toEqual({ queue: walk().queue, lockMs: 1000 });
        },
      },
    },
  };
}
