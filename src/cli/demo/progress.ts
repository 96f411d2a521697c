/**
 * Live progress while the demo runs: a bar per limiter on a terminal (cli-progress), or a plain
 * line every few seconds when stdout is not a TTY (CI logs, pipes).
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';

export interface LaneView {
  readonly name: string;
  /** Calls settled (granted, or refused for good) and planned. */
  readonly settled: number;
  readonly planned: number;
  readonly granted: number;
  readonly refused: number;
  readonly waiting: number;
  /** The quota in use now, e.g. `4980/5000 in window`. */
  readonly quota: string;
}

export interface ProgressView {
  readonly jobsDone: number;
  readonly jobs: number;
  readonly simulated: string;
  readonly lanes: readonly LaneView[];
}

export interface Progress {
  update(view: ProgressView): void;
  stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream, out: (line: string) => void, view: ProgressView): Progress {
  return stream.isTTY ? new Bars(stream, view) : new PlainLines(out);
}

const pad = (name: string, lanes: readonly LaneView[]): string => name.padEnd(Math.max(4, ...lanes.map((l) => l.name.length)));

class Bars implements Progress {
  readonly #multi: MultiBar;
  readonly #jobs: SingleBar;
  readonly #lanes: SingleBar[];

  constructor(stream: NodeJS.WriteStream, view: ProgressView) {
    this.#multi = new MultiBar(
      {
        stream,
        format: '{name} {bar} {value}/{total}  {detail}',
        barsize: 30,
        hideCursor: true,
        clearOnComplete: false,
        fps: 10,
        autopadding: true,
      },
      Presets.shades_classic,
    );
    this.#jobs = this.#multi.create(view.jobs, 0, { name: pad('jobs', view.lanes), detail: '' });
    this.#lanes = view.lanes.map((l) => this.#multi.create(l.planned, 0, { name: pad(l.name, view.lanes), detail: '' }));
  }

  update(view: ProgressView): void {
    this.#jobs.update(view.jobsDone, { detail: `${view.simulated} simulated` });
    view.lanes.forEach((l, i) => {
      this.#lanes[i]?.update(l.settled, { detail: `${l.quota}  waiting ${String(l.waiting).padStart(3)}  refused ${l.refused}` });
    });
  }

  stop(): void {
    this.#multi.stop();
  }
}

class PlainLines implements Progress {
  readonly #out: (line: string) => void;
  #last = -Infinity;

  constructor(out: (line: string) => void) {
    this.#out = out;
  }

  update(view: ProgressView): void {
    if (performance.now() - this.#last < 2000) return;
    this.#last = performance.now();
    const lanes = view.lanes.map((l) => `${l.name} ${l.granted} granted (${l.quota}, ${l.waiting} waiting, ${l.refused} refused)`);
    this.#out(`${view.simulated.padStart(7)}  jobs ${view.jobsDone}/${view.jobs}  ${lanes.join('  ')}`);
  }

  stop(): void {}
}
