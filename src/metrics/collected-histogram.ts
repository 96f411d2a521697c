/**
 * A prom-client histogram whose buckets are read from counters kept elsewhere (the coordinator's
 * fixed-bucket wait counts) when it is scraped, instead of one observe() per grant.
 */
import { Histogram, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';

export interface HistogramSeries {
  readonly labels: Record<string, string>;
  /** Count per bucket: counts[i] falls at or under bounds[i], the last one (one more) above every bound. */
  readonly counts: ArrayLike<number>;
  readonly sum: number;
}

export interface CollectedHistogramConfig {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** Inclusive upper bounds, ascending, in the metric's unit. */
  readonly bounds: readonly number[];
  readonly read: () => HistogramSeries[];
}

type Exported = MetricObjectWithValues<MetricValueWithName<string>>;

export class CollectedHistogram extends Histogram<string> {
  readonly #config: CollectedHistogramConfig;

  constructor(config: CollectedHistogramConfig) {
    super({ name: config.name, help: config.help, labelNames: [...config.labelNames], buckets: [...config.bounds], registers: [] });
    this.#config = config;
  }

  override get(): Promise<Exported> {
    return Promise.resolve(this.#export());
  }

  /** What the registry formats for the text exposition (prom-client asks for it when present). */
  getForPromString(): Promise<Exported> {
    return Promise.resolve(this.#export());
  }

  #export(): Exported {
    const { name, help, bounds } = this.#config;
    const values: MetricValueWithName<string>[] = [];
    for (const series of this.#config.read()) {
      let cumulative = 0;
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += series.counts[i] ?? 0;
        const le = i < bounds.length ? String(bounds[i]) : '+Inf';
        values.push({ metricName: `${name}_bucket`, labels: { ...series.labels, le }, value: cumulative });
      }
      values.push({ metricName: `${name}_sum`, labels: series.labels, value: series.sum });
      values.push({ metricName: `${name}_count`, labels: series.labels, value: cumulative });
    }
    return { name, help, type: 'histogram' as unknown as Exported['type'], values, aggregator: 'sum', collect: () => undefined };
  }
}
