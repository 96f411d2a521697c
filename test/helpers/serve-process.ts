/**
 * `ratesync serve` as a child process (the built CLI), on a free metrics port: its JSON log
 * lines, the URL of its metrics port, and waiting for an event.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

export type LogLine = Record<string, unknown> & { event: string };

export interface ServeProcess {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:port` of its metrics port. */
  readonly url: string;
  readonly lines: LogLine[];
  /** The first log line (from `from` on) with this event, waiting up to `timeoutMs` for it. */
  waitFor(event: string, from?: number, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export async function startServe(config: string, args: string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config, '--metrics-port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(JSON.parse(line) as LogLine);
    for (const w of waiters) w();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = (event: string, from = 0, timeoutMs = 10_000): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.slice(from).find((l) => l.event === event);
        if (found === undefined) return;
        done();
        resolve(found);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no "${event}" log line within ${timeoutMs} ms; stderr: ${stderr}; lines: ${JSON.stringify(lines)}`));
      }, timeoutMs);
      const gone = (): void => {
        done();
        reject(new Error(`serve exited before "${event}"; stderr: ${stderr}`));
      };
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
        child.off('exit', gone);
      };
      waiters.add(check);
      child.once('exit', gone);
      check();
    });
  let ready: LogLine;
  try {
    ready = await waitFor('ready');
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    child,
    url: (ready['metrics'] as { status: string }).status,
    lines,
    waitFor,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs the CLI to completion: exit code, stdout, stderr. */
export function runCli(args: string[], timeoutMs = 15_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
