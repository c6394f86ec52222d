import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

/** JSON lines in production; pretty when a person watches a terminal. Tokens are
 * credentials, so every field that may hold one is redacted. */
export function createLogger(level: string, name: string, destination?: DestinationStream): Logger {
  const pretty = !destination && process.stdout.isTTY && process.env.NODE_ENV !== "production";
  const options: pino.LoggerOptions = {
    name,
    level,
    redact: {
      paths: ["token", "app", "*.token", "*.app", "req.headers.authorization", "url", "*.url"],
      censor: (value) => (typeof value === "string" ? redactToken(value) : "[redacted]"),
    },
    serializers: { err: redactedError },
    ...(pretty ? { transport: { target: "pino-pretty", options: { colorize: true, translateTime: "HH:MM:ss.l" } } } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}

/** 22 characters is a token's length (16 bytes, base64url); shorter runs are left for readability (error codes, names). */
const TOKEN_SHAPED = /[A-Za-z0-9_-]{22,}/g;

/**
 * Errors carry tokens where no redact path reaches: ioredis puts the command's
 * key (`chat:a:<token>:chats`) in the message and in `command.args`, and the
 * stack repeats the message. Every string of the serialized error is scrubbed,
 * but stack frames (code locations, never tokens) and the class name are kept.
 */
function redactedError(err: unknown): unknown {
  return scrub(err, 0);
}

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === "string") return redactTokens(value);
  if (typeof value !== "object" || value === null) return value;
  if (depth > 8) return "[too deep]";
  if (value instanceof Error) value = pino.stdSerializers.err(value);
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  if (Buffer.isBuffer(value)) return redactTokens(value.toString("utf8"));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => {
      if ((k === "type" || k === "name") && typeof v === "string") return [k, v];
      if (k === "stack" && typeof v === "string") return [k, v.split("\n").map((line) => (/^\s+at /.test(line) ? line : redactTokens(line))).join("\n")];
      return [k, scrub(v, depth + 1)];
    }),
  );
}

const redactTokens = (text: string): string => text.replace(TOKEN_SHAPED, (token) => `${token.slice(0, 4)}…`);

/** Keeps a short prefix so operators can correlate lines without holding the credential. */
export function redactToken(value: string): string {
  return value.replace(/[A-Za-z0-9_-]{16,}/g, (token) => `${token.slice(0, 4)}…`);
}
