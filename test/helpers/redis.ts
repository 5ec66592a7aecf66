// A private, throw-away redis-server for the queue tests (mcu acquire --queue, mcu worker): Debian's
// `redis-server` binary on a free port of 127.0.0.1, nothing persisted (--save "", no AOF), its
// working directory a temp dir. Nothing is mocked: the tests talk to a real Redis through BullMQ.
// .ci/run installs the package; locally a missing binary fails the test with the apt-get line.
// Node built-ins only.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { tempDir } from './cli.js';

/** The redis-server binary on PATH, or undefined. */
export function findRedisServer(): string | undefined {
  try {
    const found = execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
    return found === '' ? undefined : found;
  } catch {
    return undefined;
  }
}

/** Throws (failing the suite, never skipping it) when redis-server is not installed. */
export function requireRedisServer(): string {
  const bin = findRedisServer();
  if (bin === undefined) {
    throw new Error(
      'redis-server is not installed: the queue tests start a real Redis on 127.0.0.1 (no mock): `sudo apt-get install -y redis-server` (.ci/run does this in CI)',
    );
  }
  return bin;
}

/** A TCP port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** One `PING` over a fresh connection: true when the server answers `+PONG`. */
export function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      answer += d.toString('utf8');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
  });
}

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  readonly child: ChildProcess;
  /** What the server logged (for failure messages). */
  log(): string;
  /** SIGTERM, and wait for the process to exit. */
  stop(): Promise<void>;
}

/** Start a private redis-server on a free port of 127.0.0.1 and wait until it answers PING (at most `timeoutMs`). */
export async function startRedis(timeoutMs = 10_000): Promise<RedisServer> {
  const bin = requireRedisServer();
  const dir = tempDir('mcu-redis-');
  const port = await freePort();
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d) => {
    log += d;
  });
  child.stderr!.on('data', (d) => {
    log += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (!(await ping(port))) {
    if (gone || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on 127.0.0.1:${port} did not answer PING within ${timeoutMs} ms${gone ? ' (it exited)' : ''}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    child,
    log: () => log,
    async stop() {
      if (!gone) child.kill('SIGTERM');
      await exited;
    },
  };
}
