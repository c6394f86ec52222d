interface Versioned {
  number: number;
  updatedAt: number;
}

/** The fresher of two versions of one entity (last writer wins by updatedAt). */
export function fresher<T extends Versioned>(a: T | null, b: T | null): T | null {
  if (!a) return b;
  if (!b) return a;
  return b.updatedAt > a.updatedAt ? b : a;
}

/**
 * Merges a durable page with the recent-writes page for the same range:
 * union by number, fresher version wins, sorted, cut to `limit`.
 */
export function mergePages<T extends Versioned>(durable: T[], recent: T[], limit: number, descending: boolean): T[] {
  const byNumber = new Map<number, T>();
  for (const item of durable) byNumber.set(item.number, item);
  for (const item of recent) byNumber.set(item.number, fresher(byNumber.get(item.number) ?? null, item) as T);
  const merged = [...byNumber.values()].sort((x, y) => (descending ? y.number - x.number : x.number - y.number));
  return merged.slice(0, limit);
}
