// The rate-limited work, the same in a piscina thread and in a cluster fork: nothing here knows
// where it runs. getLimiter() reaches the primary's coordinator on its own.
import { setTimeout as sleep } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';
import { getLimiter } from 'rate-sync';

/** Stands in for an HTTP call to a geocoding API. */
async function callGeocoder(address) {
  await sleep(5 + Math.random() * 20);
  return { address, lat: 48.85, lon: 2.35 };
}

export async function geocode(address) {
  const limiter = await getLimiter('geocoder');
  return limiter.withPermit(async (permit) => {
    const result = await callGeocoder(address);
    return { ...result, grantedAt: permit.grantedAt, by: `pid ${process.pid} thread ${threadId}` };
  });
}

// piscina runs the default export of its task file.
export default geocode;
