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
    ...(pretty ? { transport: { target: "pino-pretty", options: { colorize: true, translateTime: "HH:MM:ss.l" } } } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Keeps a short prefix so operators can correlate lines without holding the credential. */
export function redactToken(value: string): string {
  return value.replace(/[A-Za-z0-9_-]{16,}/g, (token) => `${token.slice(0, 4)}…`);
}
