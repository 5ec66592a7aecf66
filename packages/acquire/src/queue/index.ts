/**
 * `mcu acquire … --queue` and `mcu worker`: the pool's shards as jobs on a Redis-backed BullMQ
 * queue, scored by worker processes on any machines and merged by the coordinator — the same
 * selection, byte for byte, as one process gives (README "Active learning").
 */
export { acquireOnQueue, defaultQueueShardRows, type QueueAcquireOptions, type QueueProgress } from './coordinator.js';
export { runWorker, DEFAULT_LOCK_MS, MAX_STALLED, type RunWorkerOptions, type WorkerSummary } from './worker.js';
export { checkReachable, parseQueueUrl, DEFAULT_QUEUE_NAME, REACH_TIMEOUT_MS, type QueueTarget } from './connection.js';
export { JOB_VERSION, type ShardJobData, type PoolIdentity } from './job.js';
