// A latency histogram with logarithmic buckets 0.5% wide (from 1 µs to over a minute), cheap to
// fill on the hot path and to merge across load-generator processes. Percentiles read the upper
// edge of their bucket, so they are at most 0.5% high. Values that never arrived (a reply lost or
// later than the drain) are counted as "missing" and rank above every recorded value.

const GROWTH = 1.005;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = 4000; // 1.005^4000 µs ≈ 4.6e8 µs: anything longer lands in the last bucket

export interface SparseHistogram {
  /** [bucket index, count] pairs of the non-empty buckets. */
  buckets: [number, number][];
  missing: number;
}

export class Histogram {
  private readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  missing = 0;

  /** Records one value in microseconds. */
  add(micros: number): void {
    const index = micros <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(micros) / LOG_GROWTH));
    this.counts[index] = (this.counts[index] ?? 0) + 1;
    this.count++;
  }

  addMissing(n = 1): void {
    this.missing += n;
  }

  merge(other: SparseHistogram): void {
    for (const [index, n] of other.buckets) {
      this.counts[index] = (this.counts[index] ?? 0) + n;
      this.count += n;
    }
    this.missing += other.missing;
  }

  toSparse(): SparseHistogram {
    const buckets: [number, number][] = [];
    this.counts.forEach((n, index) => {
      if (n > 0) buckets.push([index, n]);
    });
    return { buckets, missing: this.missing };
  }

  static fromSparse(sparse: SparseHistogram): Histogram {
    const histogram = new Histogram();
    histogram.merge(sparse);
    return histogram;
  }

  /** The value (in ms) below which fraction q of all values (missing ones included) lie; Infinity when it falls among the missing. */
  percentileMs(q: number): number {
    const total = this.count + this.missing;
    if (total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * total));
    if (rank > this.count) return Number.POSITIVE_INFINITY;
    let seen = 0;
    for (let index = 0; index < BUCKETS; index++) {
      seen += this.counts[index] ?? 0;
      if (seen >= rank) return GROWTH ** index / 1000;
    }
    return Number.POSITIVE_INFINITY;
  }

  /** p50, p95, p99 and max, in ms, rounded to µs. */
  summary(): LatencySummary {
    const round = (ms: number) => (Number.isFinite(ms) ? Math.round(ms * 1000) / 1000 : ms);
    return {
      count: this.count,
      missing: this.missing,
      p50: round(this.percentileMs(0.5)),
      p95: round(this.percentileMs(0.95)),
      p99: round(this.percentileMs(0.99)),
      max: round(this.percentileMs(1)),
    };
  }
}

export interface LatencySummary {
  count: number;
  missing: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}
