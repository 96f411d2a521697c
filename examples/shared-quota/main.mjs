// A piscina pipeline and a node:cluster share one quota.
//
//   npm run build && node examples/shared-quota/main.mjs [--jobs 300]
//
// The primary loads the configuration, forks 2 cluster workers and runs a piscina pool of 4
// threads; all of them geocode addresses through the `geocoder` limiter (40 calls/s, burst 5, at
// most 6 in flight). No task receives a limiter, a port or a channel: importing rate-sync in the
// primary is enough for its threads and forks to share its coordinator.
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { Piscina } from 'piscina';
import { loadConfig, shutdown } from 'rate-sync';
import { geocode } from './geocode.mjs';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '300' } } });
const jobs = Number(values.jobs);
const addresses = (n, from) => Array.from({ length: n }, (_, i) => `${from + i} Rue de Rivoli, Paris`);

if (cluster.isWorker) {
  // A cluster fork: its share of the addresses, then report and leave.
  const { from, count } = JSON.parse(process.env.SHARE);
  const results = await Promise.all(addresses(count, from).map(geocode));
  process.send({ results });
  process.disconnect();
} else {
  // Forks may start before the configuration is loaded: they wait for it.
  const share = Math.floor(jobs / 4);
  const forks = [0, 1].map((i) => cluster.fork({ SHARE: JSON.stringify({ from: i * share, count: share }) }));
  loadConfig(new URL('./rate-sync.toml', import.meta.url).pathname);

  const started = Date.now();
  const pool = new Piscina({ filename: new URL('./geocode.mjs', import.meta.url).href, maxThreads: 4, concurrentTasksPerWorker: 4 });
  const fromForks = forks.map((fork) => new Promise((resolve) => fork.on('message', (m) => m.results && resolve(m.results))));
  const fromPool = addresses(jobs - 2 * share, 2 * share).map((address) => pool.run(address));
  const results = (await Promise.all([...fromForks, Promise.all(fromPool)])).flat();
  await pool.destroy();

  const stamps = results.map((r) => r.grantedAt).sort((a, b) => a - b);
  let busiest = 0;
  for (let i = 0, j = 0; j < stamps.length; j++) {
    while (stamps[i] < stamps[j] - 1000) i++;
    busiest = Math.max(busiest, j - i + 1);
  }
  const callers = new Set(results.map((r) => r.by));
  const seconds = (stamps.at(-1) - stamps[0]) / 1000;
  console.log(`${results.length} addresses geocoded in ${((Date.now() - started) / 1000).toFixed(1)} s by ${callers.size} threads and processes`);
  console.log(`${(results.length / seconds).toFixed(1)} calls/s on average; busiest second: ${busiest} calls (quota: 40/s, burst 5 → at most 45 in any second)`);
  console.log(busiest <= 45 ? 'the quota was never exceeded' : 'QUOTA EXCEEDED');
  await shutdown();
}
