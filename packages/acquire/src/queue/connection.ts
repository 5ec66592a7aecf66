/**
 * The Redis of the job queue: `redis://[USER:PASS@]HOST[:PORT][/DB][?queue=NAME]` (rediss:// for
 * TLS). ioredis reconnects forever by default, so a Redis that is not there would make a run
 * hang: before any BullMQ object is made, one PING with a deadline decides, and an unreachable
 * Redis is an E_QUEUE naming the URL and the fix within {@link REACH_TIMEOUT_MS}.
 */
import { McuError } from '@mcu/core';
import { Redis } from 'ioredis';

/** The queue's name when the URL names none. */
export const DEFAULT_QUEUE_NAME = 'mcu-acquire';

/** How long the first contact with Redis may take. */
export const REACH_TIMEOUT_MS = 3000;

export interface QueueTarget {
  /** The URL as given (for messages; its password, if any, masked). */
  readonly shown: string;
  /** The BullMQ queue name (?queue=NAME, else {@link DEFAULT_QUEUE_NAME}). */
  readonly name: string;
  /** The connection options of the URL, as ioredis (and so BullMQ) takes them. */
  readonly redis: RedisEndpoint;
}

export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
  readonly db?: number;
  readonly username?: string;
  readonly password?: string;
  /** rediss://: TLS with Node's defaults. */
  readonly tls?: Record<string, never>;
}

/** Parse a queue URL; anything else is E_USAGE with the expected form. */
export function parseQueueUrl(url: string): QueueTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new McuError('E_USAGE', `--queue '${url}' is not a URL: give redis://HOST:PORT (e.g. redis://127.0.0.1:6379)`);
  }
  if ((u.protocol !== 'redis:' && u.protocol !== 'rediss:') || u.hostname === '') {
    throw new McuError('E_USAGE', `--queue '${url}' is not a Redis URL: give redis://HOST:PORT[/DB][?queue=NAME] (rediss:// for TLS)`);
  }
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new McuError('E_USAGE', `--queue '${url}': the path is the Redis database number (/0, /1, …), got '/${db}'`);
  const extra = [...u.searchParams.keys()].filter((k) => k !== 'queue');
  if (extra.length > 0)
    throw new McuError('E_USAGE', `--queue '${url}': unknown parameter${extra.length > 1 ? 's' : ''} ${extra.join(', ')} (only ?queue=NAME)`);
  const name = u.searchParams.get('queue') ?? DEFAULT_QUEUE_NAME;
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new McuError('E_USAGE', `--queue '${url}': queue name '${name}' must be letters, digits, '_', '.' or '-'`);
  const shown = u.password !== '' ? url.replace(`:${u.password}@`, ':***@') : url;
  return {
    shown,
    name,
    redis: {
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port !== '' ? Number(u.port) : 6379,
      ...(db !== '' ? { db: Number(db) } : {}),
      ...(u.username !== '' ? { username: decodeURIComponent(u.username) } : {}),
      ...(u.password !== '' ? { password: decodeURIComponent(u.password) } : {}),
      ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  };
}

/**
 * One connection, one PING, within `timeoutMs`, no retries. Unreachable (refused, no route,
 * timed out, wrong password) is E_QUEUE with the URL, the reason and what to do.
 */
export async function checkReachable(target: QueueTarget, timeoutMs = REACH_TIMEOUT_MS): Promise<void> {
  let lastError: string | undefined;
  const client = new Redis({
    ...target.redis,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', (e: Error) => {
    lastError = e.message;
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        const pong = await client.ping();
        if (pong !== 'PONG') throw new Error(`PING answered '${pong}'`);
      })(),
      deadline,
    ]);
  } catch (e) {
    const why = lastError ?? (e instanceof Error ? e.message : String(e));
    throw new McuError(
      'E_QUEUE',
      `the job queue's Redis at ${target.shown} is not reachable (${why}): start redis-server there (e.g. \`redis-server --port ${target.redis.port}\`), or give the right --queue redis://HOST:PORT`,
      { cause: e },
    );
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
