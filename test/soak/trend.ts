// The memory verdict of a soak: is the server's RSS still growing once it warmed up? Pure functions
// over samples, so the rule is unit-tested apart from any server.

/** One memory sample: seconds since the start, resident set size in bytes. */
export interface Sample {
  t: number;
  rss: number;
  /** V8 heap in use right after a full GC (every few samples, through the inspector). */
  heapAfterGc?: number;
  /** From the server's /metrics, when it serves them: heap in use (no GC), open connections, WebSocket connections and streams. */
  metricsHeapUsed?: number;
  connections?: number;
  wsConnections?: number;
  wsStreams?: number;
}

/** Thresholds of the trend check. */
export interface TrendRule {
  /** Fraction of the run ignored as warm-up (V8 and the caches grow to their working size). */
  warmupFraction: number;
  /** Largest allowed least-squares slope of RSS after warm-up, in MiB per minute. */
  maxSlopeMiBPerMin: number;
  /** Largest allowed rise of the last quarter's median RSS over the post-warm-up median, in percent. */
  maxLastQuarterRisePct: number;
  /** Largest allowed least-squares slope of the heap after GC, after warm-up, in MiB per minute. */
  maxHeapSlopeMiBPerMin: number;
}

/** The defaults documented in docs/soak.md. */
export const defaultTrendRule: TrendRule = { warmupFraction: 0.2, maxSlopeMiBPerMin: 1, maxLastQuarterRisePct: 10, maxHeapSlopeMiBPerMin: 0.5 };

/** The outcome of the trend check with the figures behind it. */
export interface TrendVerdict {
  ok: boolean;
  /** Samples after warm-up. */
  samples: number;
  slopeMiBPerMin: number;
  postWarmupMedianMiB: number;
  lastQuarterMedianMiB: number;
  lastQuarterRisePct: number;
  /** Slope of the heap after GC (NaN without such samples). */
  heapSlopeMiBPerMin: number;
  /** Why it failed, one sentence each. */
  reasons: string[];
}

const MiB = 1024 * 1024;

/** Least-squares slope of y over x (0 for fewer than two distinct x). */
export function slope(points: Array<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Median of a list (NaN when empty). */
export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Applies the rule to samples taken over a run of `durationS` seconds. */
export function rssTrend(samples: Sample[], durationS: number, rule: TrendRule = defaultTrendRule): TrendVerdict {
  const post = samples.filter((s) => s.t >= durationS * rule.warmupFraction);
  const lastFrom = durationS - (durationS * (1 - rule.warmupFraction)) / 4;
  const last = post.filter((s) => s.t >= lastFrom);
  const slopeMiBPerMin = (slope(post.map((s) => ({ x: s.t, y: s.rss }))) * 60) / MiB;
  const postMedian = median(post.map((s) => s.rss)) / MiB;
  const lastMedian = median(last.map((s) => s.rss)) / MiB;
  const rise = ((lastMedian - postMedian) / postMedian) * 100;
  const heap = post.filter((s) => s.heapAfterGc !== undefined).map((s) => ({ x: s.t, y: s.heapAfterGc! }));
  const heapSlope = heap.length >= 4 ? (slope(heap) * 60) / MiB : NaN;
  const reasons: string[] = [];
  if (post.length < 8 || last.length < 2) reasons.push(`too few samples after warm-up (${post.length}) to judge a trend: run longer`);
  if (slopeMiBPerMin > rule.maxSlopeMiBPerMin)
    reasons.push(`RSS grows ${slopeMiBPerMin.toFixed(2)} MiB/min after warm-up (least squares), over the limit of ${rule.maxSlopeMiBPerMin} MiB/min`);
  if (rise > rule.maxLastQuarterRisePct)
    reasons.push(`the last quarter's median RSS (${lastMedian.toFixed(1)} MiB) is ${rise.toFixed(1)}% over the post-warm-up median (${postMedian.toFixed(1)} MiB), over the limit of ${rule.maxLastQuarterRisePct}%`);
  if (heapSlope > rule.maxHeapSlopeMiBPerMin)
    reasons.push(`the heap after GC grows ${heapSlope.toFixed(2)} MiB/min after warm-up (least squares), over the limit of ${rule.maxHeapSlopeMiBPerMin} MiB/min`);
  return { ok: reasons.length === 0, samples: post.length, slopeMiBPerMin, postWarmupMedianMiB: postMedian, lastQuarterMedianMiB: lastMedian, lastQuarterRisePct: rise, heapSlopeMiBPerMin: heapSlope, reasons };
}
