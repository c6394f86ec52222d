/** 1–128 visible ASCII characters: safe in a header, a frame and a Redis key name. */
const KEY = /^[\x21-\x7e]{1,128}$/;

export const idempotencyKeyRule = "must be 1 to 128 visible ASCII characters";

export function isIdempotencyKey(value: string): boolean {
  return KEY.test(value);
}
