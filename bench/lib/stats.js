// Order statistics for timing samples. Medians and p90 use the nearest-rank method on the sorted
// samples, so every reported number is one that was actually observed.

export function summarize(samples) {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    min: sorted[0],
    median: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    max: sorted[sorted.length - 1],
  };
}

function percentile(sorted, p) {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function median(samples) {
  return summarize(samples)?.median;
}

/** Milliseconds between two process.hrtime.bigint() readings. */
export function msBetween(start, end) {
  return Number(end - start) / 1e6;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
