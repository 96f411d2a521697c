// Worker-thread entry for the TypeScript fixtures of tests and benchmarks. Node 20 does not apply
// `--import tsx` to worker threads (nodejs/node#47747), so the thread registers tsx itself, then
// loads the fixture named by `workerData.entry` (a file URL). Its default export is re-exported,
// for piscina.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const fixture = await import(workerData.entry);
export default fixture.default;
