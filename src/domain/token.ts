/** 128 bits as base64url without padding: exactly 22 characters of this alphabet. */
const TOKEN = /^[A-Za-z0-9_-]{22}$/;

/**
 * Whether a string is a token in its one canonical spelling. Anything else
 * (padded, case-folded, percent-decoded into non-ASCII, …) names no
 * application: stores compare bytes, but counters and channels are built from
 * the string, so a variant must never get as far as a backend.
 */
export function isCanonicalToken(value: string): boolean {
  return TOKEN.test(value);
}
