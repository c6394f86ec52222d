/**
 * A fresh idempotency key: 128 random bits as base64url (22 visible ASCII
 * characters, inside the server's 1–128). getRandomValues rather than
 * randomUUID because browsers offer randomUUID only to secure contexts, and a
 * page served over plain http from a LAN address is not one.
 */
export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
