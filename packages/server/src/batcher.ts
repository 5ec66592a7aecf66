/**
 * Micro-batching: predict requests for one model with the same run options wait up to
 * `waitMs` and run as ONE core predict over their rows, cut back per request. With
 * sample-scope masks (one mask per sample, shared by every row) a row's numbers do not depend
 * on the rows beside it, so a coalesced request gets exactly what it gets alone. Point-scope
 * masks are drawn by global row index, so those requests are never coalesced. One run per
 * model at a time: what arrives meanwhile queues and forms the next batch.
 */
import { predict, type Mcu, type NamedTensors, type PredictOptions, type PredictResult as CorePrediction } from '@mcu/core';
import { HttpError } from './errors.js';
import { concatFeeds } from './inputs.js';
import type { ServedModel } from './models.js';
import { predictResponse, type PredictResponse } from './result.js';

/** The run options a request may give (the body's `options`). */
export interface RequestOptions {
  readonly samples?: number;
  readonly seed?: number;
  readonly task?: PredictOptions['task'];
  readonly tau?: number;
  readonly maskScope?: 'sample' | 'point';
}

/** A request's run options with the server's defaults filled in: `tauDefault` when τ came from the defaults. */
export interface RunOptions extends RequestOptions {
  /** τ is the server's default, not the request's: dropped for a model without a regression output (core's tauDefault). */
  readonly tauDefault?: boolean;
}

/** Limits of the batcher. */
export interface BatcherLimits {
  /** How long the first request of a batch waits for others, in ms. */
  readonly waitMs: number;
  /** The most rows one coalesced run takes (a request is never split). */
  readonly maxBatchRows: number;
  /** The most requests waiting (not running) over all models; one more is a 429. */
  readonly queue: number;
  /** From arrival to answer, in ms: still waiting then is a 503, still running a 504. */
  readonly timeoutMs: number;
}

/** What the batcher reports, for the metrics. */
export interface BatcherEvents {
  /** Requests waiting changed. */
  queueDepth(depth: number): void;
  /** One core predict ran for `requests` requests and `rows` rows. */
  run(model: string, requests: number, rows: number, samples: number): void;
  /** One backend call finished. */
  backendCall(model: string): void;
}

interface Job {
  readonly feeds: NamedTensors;
  readonly rows: number;
  readonly resolve: (r: PredictResponse) => void;
  readonly reject: (e: unknown) => void;
  timer?: NodeJS.Timeout;
  state: 'queued' | 'running' | 'done';
}

interface Lane {
  readonly key: string;
  readonly options: RunOptions;
  readonly jobs: Job[];
}

interface ModelQueue {
  readonly served: ServedModel;
  /** Lanes by key, oldest first (Map keeps insertion order). */
  readonly lanes: Map<string, Lane>;
  running: boolean;
  timer?: NodeJS.Timeout;
}

let unique = 0;

export class Batcher {
  private readonly models = new Map<string, ModelQueue>();
  private waiting = 0;
  /** The runs under way (a run whose requests all timed out still runs to its end). */
  private readonly runs = new Set<Promise<void>>();

  constructor(
    private readonly mcu: Mcu,
    private readonly limits: BatcherLimits,
    private readonly events: BatcherEvents,
    private readonly memoryBudgetBytes: number,
  ) {}

  /** Requests waiting to run, over all models. */
  get depth(): number {
    return this.waiting;
  }

  /** Predict `feeds` (one request's rows, already checked) on `served` with `options`; coalesced where that changes no number. */
  submit(served: ServedModel, feeds: NamedTensors, rows: number, options: RunOptions): Promise<PredictResponse> {
    if (this.waiting >= this.limits.queue) {
      throw new HttpError(
        429,
        'E_BUSY',
        `the queue is full (${this.limits.queue} requests waiting): retry later, or start more instances behind the load balancer`,
      );
    }
    let q = this.models.get(served.name);
    if (q === undefined) {
      q = { served, lanes: new Map(), running: false };
      this.models.set(served.name, q);
    }
    // point-scope masks follow global row indices: such a request runs alone
    const shape = Object.entries(feeds).map(([n, t]) => [n, t.dtype, t.dims.slice(1)]);
    const key =
      options.maskScope === 'point'
        ? `point#${unique++}`
        : JSON.stringify([options.samples, options.seed, options.task, options.tau, options.tauDefault === true, shape]);
    let lane = q.lanes.get(key);
    if (lane === undefined) {
      lane = { key, options, jobs: [] };
      q.lanes.set(key, lane);
    }
    const laneRef = lane;
    const queue = q;
    return new Promise<PredictResponse>((resolve, reject) => {
      const job: Job = { feeds, rows, resolve, reject, state: 'queued' };
      job.timer = setTimeout(() => this.expire(queue, laneRef, job), this.limits.timeoutMs);
      laneRef.jobs.push(job);
      this.setWaiting(this.waiting + 1);
      this.schedule(queue, this.limits.waitMs);
    });
  }

  /** Resolves once no run is under way and no request waits (for a close that frees the models after). */
  async idle(): Promise<void> {
    while (this.runs.size > 0 || this.waiting > 0) await Promise.race([...this.runs, new Promise((r) => setTimeout(r, 5))]);
  }

  private setWaiting(n: number): void {
    this.waiting = n;
    this.events.queueDepth(n);
  }

  private expire(q: ModelQueue, lane: Lane, job: Job): void {
    if (job.state === 'queued') {
      const at = lane.jobs.indexOf(job);
      if (at >= 0) lane.jobs.splice(at, 1);
      if (lane.jobs.length === 0 && q.lanes.get(lane.key) === lane) q.lanes.delete(lane.key);
      this.setWaiting(this.waiting - 1);
      job.state = 'done';
      job.reject(
        new HttpError(503, 'E_TIMEOUT', `waited ${this.limits.timeoutMs} ms in the queue without running: the server is overloaded; retry later or scale out`),
      );
    } else if (job.state === 'running') {
      job.state = 'done';
      job.reject(new HttpError(504, 'E_TIMEOUT', `the prediction took longer than ${this.limits.timeoutMs} ms: send fewer rows or samples`));
    }
  }

  private schedule(q: ModelQueue, delayMs: number): void {
    if (q.running || q.timer !== undefined || q.lanes.size === 0) return;
    q.timer = setTimeout(() => {
      q.timer = undefined;
      const run = this.runNext(q);
      this.runs.add(run);
      void run.finally(() => this.runs.delete(run));
    }, delayMs);
  }

  /** Run the oldest lane's requests, as many as fit in maxBatchRows (at least one). */
  private async runNext(q: ModelQueue): Promise<void> {
    const lane = q.lanes.values().next().value as Lane | undefined;
    if (lane === undefined) return;
    const jobs: Job[] = [];
    let rows = 0;
    while (lane.jobs.length > 0 && (jobs.length === 0 || rows + lane.jobs[0]!.rows <= this.limits.maxBatchRows)) {
      const job = lane.jobs.shift()!;
      job.state = 'running';
      jobs.push(job);
      rows += job.rows;
    }
    if (lane.jobs.length === 0) q.lanes.delete(lane.key);
    this.setWaiting(this.waiting - jobs.length);
    q.running = true;
    const name = q.served.name;
    const o = lane.options;
    let result: CorePrediction | undefined;
    let failure: unknown;
    try {
      result = await predict(q.served.model, concatFeeds(jobs.map((j) => j.feeds)), {
        mcu: this.mcu,
        memoryBudgetBytes: this.memoryBudgetBytes,
        ...(o.samples !== undefined ? { samples: o.samples } : {}),
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        ...(o.task !== undefined ? { task: o.task } : {}),
        ...(o.tau !== undefined ? { tau: o.tau, tauDefault: o.tauDefault === true } : {}),
        ...(o.maskScope !== undefined ? { scope: o.maskScope } : {}),
        onProgress: () => this.events.backendCall(name),
      });
      this.events.run(name, jobs.length, rows, result.meta.samples);
    } catch (e) {
      failure = e;
    }
    let first = 0;
    for (const job of jobs) {
      clearTimeout(job.timer);
      if (job.state === 'running') {
        job.state = 'done';
        if (result !== undefined) job.resolve(predictResponse(q.served.model, result, first, job.rows));
        else job.reject(failure);
      }
      first += job.rows;
    }
    q.running = false;
    // what queued meanwhile has waited already
    this.schedule(q, 0);
  }
}
