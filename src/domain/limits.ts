// Input limits of the API (docs/API.md). One place, so validation schemas, transports and
// docs cannot disagree.
export const limits = {
  nameMinChars: 1,
  nameMaxChars: 255,
  bodyMinBytes: 1,
  bodyMaxBytes: 65_536,
  requestMaxBytes: 1024 * 1024,
  pageDefault: 50,
  pageMax: 200,
  /** Numbers are positive 32-bit-safe integers in MySQL INT UNSIGNED range. */
  numberMax: 4_294_967_295,
  /** Long queries are accepted and cut by the search adapter (16 words of 64 characters). */
  searchQueryMaxChars: 16_384,
} as const;

/** Parses a path segment as a chat/message number; anything else is "no such thing". */
export function parseNumber(segment: string): number | null {
  if (!/^[1-9][0-9]{0,9}$/.test(segment)) return null;
  const n = Number(segment);
  return n <= limits.numberMax ? n : null;
}

export function clampLimit(raw: number | undefined): number {
  if (raw === undefined) return limits.pageDefault;
  return Math.min(Math.max(1, Math.trunc(raw)), limits.pageMax);
}
