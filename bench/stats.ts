/** Raw measurements of one phase, or of one round of it: mergeable across rounds. */
export interface Sample {
  n: number;
  errors: number;
  durationMs: number;
  latenciesMs: number[];
}

/** Figures of one measured phase: what was sent, what succeeded, how fast, how long each took. */
export interface PhaseResult {
  concurrency: number;
  n: number;
  ok: number;
  errors: number;
  duration_s: number;
  /** Successful operations per second over the phase (first send to last completion, summed over rounds). */
  throughput: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1];
}

/** Rounds of one phase as if they were one run: counts and times add up, latencies pool. */
export function mergeSamples(samples: Sample[]): Sample {
  return {
    n: samples.reduce((a, s) => a + s.n, 0),
    errors: samples.reduce((a, s) => a + s.errors, 0),
    durationMs: samples.reduce((a, s) => a + s.durationMs, 0),
    latenciesMs: samples.flatMap((s) => s.latenciesMs),
  };
}

export function summarize(concurrency: number, sample: Sample): PhaseResult {
  const sorted = [...sample.latenciesMs].sort((a, b) => a - b);
  const durationS = sample.durationMs / 1000;
  return {
    concurrency,
    n: sample.n,
    ok: sorted.length,
    errors: sample.errors,
    duration_s: round(durationS, 2),
    throughput: round(sorted.length / durationS, 1),
    p50_ms: round(percentile(sorted, 50), 1),
    p99_ms: round(percentile(sorted, 99), 1),
    max_ms: round(sorted[sorted.length - 1] ?? NaN, 1),
  };
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** `n` split into `parts` near-equal whole chunks. */
export function chunks(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0)).filter((c) => c > 0);
}

/** Runs `task(i)` for i in [0, n) with at most `concurrency` in flight. */
export async function runPool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
}

/** Latency figures of sequential calls. */
export interface LatencySummary {
  n: number;
  mean_ms: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
}

export function latencySummary(latenciesMs: number[]): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const digits = 2;
  return {
    n: sorted.length,
    mean_ms: round(sorted.reduce((a, b) => a + b, 0) / Math.max(sorted.length, 1), digits),
    p50_ms: round(percentile(sorted, 50), digits),
    p95_ms: round(percentile(sorted, 95), digits),
    p99_ms: round(percentile(sorted, 99), digits),
    max_ms: round(sorted[sorted.length - 1] ?? NaN, digits),
  };
}
