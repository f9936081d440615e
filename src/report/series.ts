// Numeric helpers for report figures: trailing moving-average smoothing, bucketing long per-step series
// into at most N points (mean + min/max band) so a 10,000-step run stays a few kilobytes of SVG, and
// mean / standard deviation over seeds.

export interface Point {
  x: number;
  y: number;
}

export interface BandPoint {
  x: number;
  lo: number;
  hi: number;
}

/** Trailing moving average over `window` points (window ≤ 1: the series itself). */
export function movingAverage(ys: readonly number[], window: number): number[] {
  const w = Math.max(1, Math.floor(window));
  if (w === 1) return ys.slice();
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < ys.length; i++) {
    sum += ys[i]!;
    if (i >= w) sum -= ys[i - w]!;
    out.push(sum / Math.min(i + 1, w));
  }
  return out;
}

/** The smoothing window used when the user gives none: about 2 % of the series, at least 1. */
export function autoWindow(n: number): number {
  return Math.max(1, Math.round(n / 50));
}

/**
 * Splits the points (sorted by x) into at most `maxPoints` consecutive buckets and returns, per bucket, the
 * mean point and the min/max band. With no more points than maxPoints the points are returned as they are
 * (band lo = hi = y).
 */
export function bucket(points: readonly Point[], maxPoints: number): { mean: Point[]; band: BandPoint[] } {
  if (points.length <= maxPoints) {
    return { mean: points.map((p) => ({ ...p })), band: points.map((p) => ({ x: p.x, lo: p.y, hi: p.y })) };
  }
  const mean: Point[] = [];
  const band: BandPoint[] = [];
  for (let b = 0; b < maxPoints; b++) {
    const s = Math.floor((b * points.length) / maxPoints);
    const e = Math.floor(((b + 1) * points.length) / maxPoints);
    if (e <= s) continue;
    let sx = 0, sy = 0, lo = Infinity, hi = -Infinity;
    for (let i = s; i < e; i++) {
      const p = points[i]!;
      sx += p.x;
      sy += p.y;
      if (p.y < lo) lo = p.y;
      if (p.y > hi) hi = p.y;
    }
    const n = e - s;
    mean.push({ x: sx / n, y: sy / n });
    band.push({ x: sx / n, lo, hi });
  }
  return { mean, band };
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (0 for a single value). */
export function sd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

/** Element-wise mean of curves, up to the shortest one's length. */
export function meanCurve(curves: readonly (readonly number[])[]): number[] {
  if (curves.length === 0) return [];
  const n = Math.min(...curves.map((c) => c.length));
  return Array.from({ length: n }, (_, i) => mean(curves.map((c) => c[i]!)));
}
