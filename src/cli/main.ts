#!/usr/bin/env node
/** The `ratesync` command. */
import { Command, InvalidArgumentError } from 'commander';
import { VERSION } from '../version.js';
import { checkCommand } from './check.js';
import { runDemo } from './demo.js';
import { serve } from './serve.js';

function positive(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a number > 0, got "${value}"`);
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
  .description('run a batch of jobs against simulated GitHub, Stripe and OpenAI quotas on the memory store')
  .option('-c, --config <file>', 'limiters to use (default: the package\'s examples/rate-sync.toml)')
  .option('--speed <n>', 'time runs this many times faster than real time', positive('--speed'), 240)
  .option('--jobs <n>', 'number of jobs', positive('--jobs'), 8000)
  .action(async (opts: { config?: string; speed: number; jobs: number }) => {
    await runDemo({ ...opts, jobs: Math.round(opts.jobs), out: (s) => process.stdout.write(`${s}\n`) });
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
