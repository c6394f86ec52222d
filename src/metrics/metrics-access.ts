import { timingSafeEqual } from "node:crypto";

/**
 * Whether an Authorization header may read the metrics: anyone when no
 * METRICS_KEY is configured, else exactly `Bearer <key>` (constant time).
 */
export function metricsAccess(key: string | null): (authorization: string | undefined) => boolean {
  if (key === null) return () => true;
  const expected = Buffer.from(`Bearer ${key}`);
  return (authorization) => {
    const given = Buffer.from(authorization ?? "");
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}

export const UNAUTHORIZED_BODY = JSON.stringify({ error: { code: "unauthorized", message: "a valid metrics bearer key is required" } });
