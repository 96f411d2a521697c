#!/usr/bin/env node
/** The `ratesync` command. */
import { Command, InvalidArgumentError } from 'commander';
import { VERSION } from '../version.js';
import { checkCommand } from './check.js';
import { DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT, serve } from './serve.js';
import { statusCommand } from './status.js';

function positive(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a number > 0, got "${value}"`);
    return n;
  };
}

function integer(name: string, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > max) throw new InvalidArgumentError(`${name} must be an integer from 0 to ${max}, got "${value}"`);
    return n;
  };
}

const program = new Command()
  .name('ratesync')
  .description('One set of rate and concurrency limits for a whole fleet of background workers.')
  .version(VERSION);

program
  .command('check')
  .description('validate a configuration file and show its limiters (default: RATE_SYNC_CONFIG, ./rate-sync.toml, ./config/rate-sync.toml)')
  .argument('[file]', 'configuration file')
  .action((file: string | undefined) => {
    process.exitCode = checkCommand(file, {
      out: (s) => process.stdout.write(`${s}\n`),
      err: (s) => process.stderr.write(`${s}\n`),
    });
  });

program
  .command('demo')
  .description('a batch pipeline (piscina pool and cluster forks) against simulated GitHub, Stripe and OpenAI quotas, on the memory store')
  .option('-c, --config <file>', 'limiters to use: github_api, stripe_api, openai_api (default: the package\'s examples/rate-sync.toml)')
  .option('--speed <n>', 'time runs this many times faster than real time', positive('--speed'), 240)
  .option('--jobs <n>', 'number of jobs', positive('--jobs'), 8000)
  .option('--threads <n>', 'threads of the piscina pool', integer('--threads', 64), 2)
  .option('--forks <n>', 'cluster forks', integer('--forks', 64), 2)
  .option('--report <file>', 'where to write the HTML report', 'demo-report.html')
  .option('--no-report', 'write no HTML report')
  .action(async (opts: { config?: string; speed: number; jobs: number; threads: number; forks: number; report: string | false }) => {
    if (opts.threads + opts.forks === 0) program.error('ratesync demo: --threads and --forks cannot both be 0');
    // Loaded here, not at the top: the demo's primary serves the threads and forks it starts.
    const { runDemo } = await import('./demo/index.js');
    await runDemo({ ...opts, jobs: Math.round(opts.jobs), out: (s) => process.stdout.write(`${s}\n`), stream: process.stdout });
  });

program
  .command('serve')
  .description('run the coordinator of this host: Celery bridge when the configuration has a [bridge] table, metrics and status page on the metrics port; SIGHUP reloads the configuration')
  .option('-c, --config <file>', 'configuration file (default: RATE_SYNC_CONFIG, ./rate-sync.toml, ./config/rate-sync.toml)')
  .option('--metrics-port <port>', `port of /metrics, /status.json and the status page (0: any free port)`, integer('--metrics-port', 65535), DEFAULT_METRICS_PORT)
  .option('--metrics-host <address>', 'address to listen on (anything but loopback exposes them to the network, unauthenticated)', DEFAULT_METRICS_HOST)
  .option('--no-metrics', 'no metrics port')
  .action(async (opts: { config?: string; metrics: boolean; metricsPort: number; metricsHost: string }) => {
    const out = (s: string): void => void process.stdout.write(`${s}\n`);
    let server;
    try {
      server = await serve({
        ...(opts.config === undefined ? {} : { config: opts.config }),
        out,
        http: opts.metrics ? { host: opts.metricsHost, port: opts.metricsPort } : false,
      });
    } catch (err) {
      process.stderr.write(`ratesync serve: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    }
    process.on('SIGHUP', () => void server.reload());
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        void server.stop(`the coordinator was stopped (${signal})`).then(() => process.exit(0));
      });
    }
  });

program
  .command('status')
  .description('show what a running `ratesync serve` is doing: per limiter and busiest keys')
  .option('--url <url>', 'the metrics port of the serve process: URL, host:port or port (env RATE_SYNC_STATUS_URL)', process.env['RATE_SYNC_STATUS_URL'] ?? `http://${DEFAULT_METRICS_HOST}:${DEFAULT_METRICS_PORT}`)
  .option('--json', 'print the status report as JSON (for scripts)')
  .option('-w, --watch', 'redraw every second until interrupted')
  .option('--keys <n>', 'busiest keys shown per limiter', integer('--keys', 100), 3)
  .action(async (opts: { url: string; json?: boolean; watch?: boolean; keys: number }) => {
    process.exitCode = await statusCommand({
      url: opts.url,
      json: opts.json === true,
      watch: opts.watch === true,
      keys: opts.keys,
      out: (s) => process.stdout.write(s),
      err: (s) => process.stderr.write(`${s}\n`),
      tty: process.stdout.isTTY === true,
    });
  });

await program.parseAsync();
