#!/usr/bin/env node
/** The `ratesync` command. */
import { Command, InvalidArgumentError } from 'commander';
import { VERSION } from '../version.js';
import { checkCommand } from './check.js';
import { serve } from './serve.js';

function positive(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a number > 0, got "${value}"`);
    return n;
  };
}

function count(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 64) throw new InvalidArgumentError(`${name} must be an integer from 0 to 64, got "${value}"`);
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
  .option('--threads <n>', 'threads of the piscina pool', count('--threads'), 2)
  .option('--forks <n>', 'cluster forks', count('--forks'), 2)
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
  .description('run the coordinator of this host, with the Celery bridge when the configuration has a [bridge] table')
  .option('-c, --config <file>', 'configuration file (default: RATE_SYNC_CONFIG, ./rate-sync.toml, ./config/rate-sync.toml)')
  .action(async (opts: { config?: string }) => {
    const out = (s: string): void => void process.stdout.write(`${s}\n`);
    let server;
    try {
      server = await serve({ ...opts, out });
    } catch (err) {
      process.stderr.write(`ratesync serve: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    }
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        void server.stop(`the coordinator was stopped (${signal})`).then(() => process.exit(0));
      });
    }
  });

await program.parseAsync();
