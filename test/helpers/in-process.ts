// Calling the CLI's `main(argv, io)` in-process (no subprocess, no build needed): stdout and
// stderr are collected, the working directory is a test's temp folder.
import { Writable } from 'node:stream';
import { main } from '@mcu/cli';

export interface InProcessRun {
  readonly argv: readonly string[];
  readonly code: number;
  /** stdout as UTF-8 text. */
  readonly stdout: string;
  /** stdout as bytes (npy). */
  readonly bytes: Buffer;
  readonly stderr: string;
}

class Collect extends Writable {
  readonly chunks: Buffer[] = [];
  isTTY = false;
  override _write(chunk: unknown, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
    done();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Run `mcu ARGV…` in-process with `cwd` as the working directory. */
export async function mcu(argv: readonly string[], cwd: string): Promise<InProcessRun> {
  const stdout = new Collect();
  const stderr = new Collect();
  const code = await main(argv, { stdout, stderr: stderr as unknown as NodeJS.WriteStream, cwd });
  return { argv, code, stdout: stdout.text(), bytes: Buffer.concat(stdout.chunks), stderr: stderr.text() };
}

/** A run's command line and streams, for assertion messages. */
export function show(r: InProcessRun): string {
  const cut = (s: string) => (s.length > 1500 ? `${s.slice(0, 1500)}… (${s.length} chars)` : s);
  return `mcu ${r.argv.join(' ')}\n  exit ${r.code}\n  stderr: ${cut(r.stderr)}\n  stdout: ${cut(r.stdout)}`;
}

/** The run exited 2 with nothing on stdout and exactly one stderr line matching `re`. */
export function expectRefusedInOneLine(r: InProcessRun, re: RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  if (r.code !== 2 || r.stdout !== '' || lines.length !== 1 || !re.test(lines[0]!)) {
    throw new Error(`expected exit 2, no stdout and one stderr line matching ${re}\n${show(r)}`);
  }
}
