// `mcu acquire` and `mcu worker` on the command line: the flags each takes, the values they
// refuse, the flags that only go together, `--queue` meaning serve's queue size or a Redis URL by
// command, and the help texts. Pure parsing: no model, no Redis.
import { describe, expect, it } from 'vitest';
import { McuError } from '@mcu/core';
import { HEURISTICS as LIBRARY_HEURISTICS } from '@mcu/acquire';
import { HEURISTICS, HELP, OPTIONS, flagTableMarkdown, helpText, parseArgs } from '../src/args.js';
import { mergeSettings } from '../src/config.js';
import { makePlan } from '../src/plan.js';

function usage(argv: string[]): string {
  try {
    parseArgs(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(McuError);
    expect((e as McuError).code).toBe('E_USAGE');
    return (e as McuError).message;
  }
  throw new Error(`parseArgs(${JSON.stringify(argv)}) did not throw`);
}

const A = (...rest: string[]) => ['acquire', 'm.onnx', '--pool', 'pool.npy', '--k', '5', ...rest];
const W = (...rest: string[]) => ['worker', 'm.onnx', '--queue', 'redis://127.0.0.1:6379', ...rest];

describe('mcu acquire: flags', () => {
  it('takes every flag of its usage line', () => {
    const p = parseArgs(
      A(
        '--heuristic',
        'batchbald',
        '--candidates',
        '50',
        '--samples',
        '10',
        '--seed',
        '3',
        '--mask-scope',
        'sample',
        '--block-rows',
        '64',
        '--shard-rows',
        '256',
        '--workers',
        '2',
        '--out',
        'sel.csv',
        '--format',
        'csv',
        '--output',
        'probs',
        '--backend',
        'onnx',
        '--quiet',
      ),
    );
    expect(p.command).toBe('acquire');
    expect(p.model).toBe('m.onnx');
    expect(p.options).toEqual({
      pool: 'pool.npy',
      k: 5,
      heuristic: 'batchbald',
      candidates: 50,
      samples: 10,
      seed: 3,
      maskScope: 'sample',
      blockRows: 64,
      shardRows: 256,
      workers: 2,
      out: 'sel.csv',
      format: 'csv',
      output: 'probs',
      backend: 'onnx',
      quiet: true,
    });
    expect(parseArgs(A('--queue', 'redis://10.0.0.5:6380/2?queue=al')).options.queueUrl).toBe('redis://10.0.0.5:6380/2?queue=al');
    expect(parseArgs(A('--heuristic', 'std', '--tau', '4')).options).toMatchObject({ heuristic: 'std', tau: 4 });
  });

  it('needs MODEL, --pool and --k', () => {
    expect(usage(['acquire', '--pool', 'p.npy', '--k', '3'])).toBe('acquire: missing MODEL (usage: mcu acquire MODEL [options]; see mcu acquire --help)');
    expect(usage(['acquire', 'm.onnx', '--k', '3'])).toBe('acquire: missing --pool FILE (the unlabelled rows to score: NPY or CSV)');
    expect(usage(['acquire', 'm.onnx', '--pool', 'p.npy'])).toBe('acquire: missing --k K (how many rows to select)');
  });

  it('refuses bad values, naming the flag and the value', () => {
    expect(usage(A('--heuristic', 'random'))).toBe(`--heuristic expects one of ${HEURISTICS.join(', ')}, got 'random'`);
    expect(usage(['acquire', 'm.onnx', '--pool', 'p.npy', '--k', '0'])).toBe("--k expects an integer ≥ 1, got '0'");
    expect(usage(A('--workers', '0'))).toBe("--workers expects an integer ≥ 1, got '0'");
    expect(usage(A('--block-rows', '0'))).toBe("--block-rows expects an integer ≥ 1, got '0'");
    expect(usage(A('--queue', 'http://127.0.0.1:6379'))).toMatch(/^--queue expects a Redis URL redis:\/\/HOST:PORT.*, got 'http:\/\/127\.0\.0\.1:6379'$/);
    expect(usage(A('--queue', '6379'))).toMatch(/^--queue expects a Redis URL/);
    expect(usage(A('--format', 'npy'))).toBe("--format npy is not available for 'acquire' (use json or csv)");
  });

  it('refuses flags that only apply with others', () => {
    expect(usage(A('--candidates', '20'))).toBe('--candidates 20 is the candidate set of --heuristic batchbald, but the heuristic is bald (the default)');
    expect(usage(A('--heuristic', 'batchbald', '--candidates', '3'))).toBe(
      '--candidates 3 is fewer than --k 5: batchbald chooses the k rows among the candidates',
    );
    expect(usage(A('--tau', '2'))).toBe('--tau 2 adds 1/τ to the predictive variance of --heuristic std, but the heuristic is bald (the default)');
    expect(usage(A('--queue', 'redis://h:1', '--workers', '2'))).toMatch(
      /^--workers 2 sets threads on this machine, but --queue redis:\/\/h:1 scores the shards in `mcu worker` processes/,
    );
    expect(usage(A('--shard-rows', '100', '--block-rows', '64'))).toBe(
      '--shard-rows 100 is not a multiple of --block-rows 64: every shard must start on a block boundary (e.g. --shard-rows 128)',
    );
  });

  it('refuses the flags of other commands, saying why where it is not obvious', () => {
    expect(usage(A('--input', 'x.csv'))).toMatch(/^--input is not an option of 'acquire'/);
    expect(usage(A('--concurrency', '2'))).toMatch(/^--concurrency is not an option of 'acquire' \(it applies to: worker\)/);
    expect(usage(A('--lock-ms', '2000'))).toMatch(/^--lock-ms is not an option of 'acquire'/);
  });
});

describe('mcu worker: flags', () => {
  it('takes MODEL, --queue, --pool, --concurrency, --lock-ms', () => {
    expect(parseArgs(W('--pool', '/mnt/p.npy', '--concurrency', '2', '--lock-ms', '2000'))).toMatchObject({
      command: 'worker',
      model: 'm.onnx',
      options: { queueUrl: 'redis://127.0.0.1:6379', pool: '/mnt/p.npy', concurrency: 2, lockMs: 2000 },
    });
  });

  it('needs --queue and MODEL; --lock-ms has a floor', () => {
    expect(usage(['worker', 'm.onnx'])).toBe('worker: missing --queue redis://HOST:PORT (the Redis that `mcu acquire … --queue` puts its shards on)');
    expect(usage(['worker', '--queue', 'redis://h:1'])).toBe('worker: missing MODEL (usage: mcu worker MODEL [options]; see mcu worker --help)');
    expect(usage(W('--lock-ms', '100'))).toBe("--lock-ms expects an integer in 500..3600000, got '100'");
    expect(usage(W('--concurrency', '0'))).toBe("--concurrency expects an integer ≥ 1, got '0'");
  });

  it("refuses the run options: they come with each job, the coordinator's", () => {
    for (const flag of [
      ['--samples', '5'],
      ['--seed', '1'],
      ['--backend', 'onnx'],
    ]) {
      expect(usage(W(...flag))).toBe(
        `${flag[0]} is not an option of 'worker': a worker scores each shard with the options of the job (the coordinator's mcu acquire flags), so that every shard is scored alike (it applies to: ${(OPTIONS as Record<string, { flag: string; commands: readonly string[] }>)[flag[0] === '--samples' ? 'samples' : flag[0] === '--seed' ? 'seed' : 'backend']!.commands.join(', ')})`,
      );
    }
    expect(usage(W('--k', '3'))).toMatch(/^--k is not an option of 'worker' \(it applies to: acquire\)/);
  });
});

describe('--queue: one flag, two options', () => {
  it('serve: the number of waiting requests; acquire and worker: the Redis URL', () => {
    expect(parseArgs(['serve', '--models', 'd', '--queue', '3']).options).toEqual({ models: 'd', queue: 3 });
    expect(usage(['serve', '--models', 'd', '--queue', 'redis://h:1'])).toBe("--queue expects an integer ≥ 1, got 'redis://h:1'");
    expect(parseArgs(W()).options).toEqual({ queueUrl: 'redis://127.0.0.1:6379' });
    // a command that takes neither names every command of the flag
    expect(usage(['predict', 'm.onnx', '--input', 'x.csv', '--queue', '3'])).toBe(
      "--queue is not an option of 'predict' (it applies to: serve, acquire, worker)",
    );
  });

  it('the flag table lists both, each with its commands', () => {
    const rows = flagTableMarkdown()
      .split('\n')
      .filter((l) => l.startsWith('| `--queue'));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^\| `--queue Q` \|/);
    expect(rows[1]).toMatch(/^\| `--queue URL` \|/);
  });
});

describe('help', () => {
  it('mcu --help lists acquire and worker; each has its own help', () => {
    expect(HELP.global).toMatch(/\n {2}acquire {5}Active learning: score every row/);
    expect(HELP.global).toMatch(/\n {2}worker {6}Score the shards `mcu acquire … --queue` puts on a Redis queue/);
    expect(helpText('acquire')).toMatch(/^Usage: mcu acquire MODEL --pool FILE --k K \[--heuristic H\] \[options\]/);
    expect(helpText('acquire')).toMatch(/--heuristic H +how a row is scored: bald/);
    expect(helpText('acquire')).toMatch(/--queue URL/);
    expect(helpText('worker')).toMatch(/^Usage: mcu worker MODEL --queue redis:\/\/HOST:PORT \[options\]/);
    expect(helpText('worker')).toMatch(/--lock-ms MS/);
    expect(helpText('worker')).not.toMatch(/--samples/);
    expect(parseArgs(['acquire', '--help'])).toMatchObject({ command: 'help', topic: 'acquire' });
  });

  it("the heuristics the parser takes are @mcu/acquire's", () => {
    expect([...HEURISTICS]).toEqual([...LIBRARY_HEURISTICS]);
  });
});

describe('the plan of acquire and worker', () => {
  it('acquire: pool, k, heuristic (default bald), the split, and the run options', () => {
    const parsed = parseArgs(A('--samples', '7', '--seed', '2', '--shard-rows', '128', '--block-rows', '64', '--queue', 'redis://h:1'));
    const plan = makePlan(mergeSettings({}, parsed));
    expect(plan.acquire).toEqual({ pool: 'pool.npy', k: 5, heuristic: 'bald', shardRows: 128, blockRows: 64, queue: 'redis://h:1' });
    expect(plan.engine).toMatchObject({ samples: 7, seed: 2 });
    expect(plan.worker).toBeUndefined();
  });

  it('worker: the queue and its limits', () => {
    const plan = makePlan(mergeSettings({}, parseArgs(W('--concurrency', '3'))));
    expect(plan.worker).toEqual({ queue: 'redis://127.0.0.1:6379', concurrency: 3 });
    expect(plan.acquire).toBeUndefined();
  });
});
