import { Writable } from "node:stream";
import { SignJWT } from "jose";
import type { Logger } from "pino";
import { createLogger } from "../../src/log.js";

export interface Claims {
  sub?: string;
  name?: string;
  app?: string;
  chats?: number[];
  /** Seconds since the epoch; default one hour ahead; null: none. */
  exp?: number | null;
  nbf?: number;
}

const seconds = (ms: number): number => Math.floor(ms / 1000);

/** A user token as an application's backend signs one: HS256 with the secret's UTF-8 bytes. */
export async function userToken(secret: string, claims: Claims, alg = "HS256"): Promise<string> {
  const { exp, ...rest } = claims;
  const payload = exp === null ? rest : { ...rest, exp: exp ?? seconds(Date.now()) + 3600 };
  return new SignJWT(payload).setProtectedHeader({ alg, typ: "JWT" }).sign(new TextEncoder().encode(secret));
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

/** An unsigned token (`alg: none`), which a verifier pinned to HS256 must refuse. */
export function unsignedToken(claims: Claims): string {
  return `${b64({ alg: "none", typ: "JWT" })}.${b64({ exp: seconds(Date.now()) + 3600, ...claims })}.`;
}

/** The token with another payload and the original signature. */
export function tampered(token: string, claims: Claims): string {
  const [header, , signature] = token.split(".");
  return `${header}.${b64({ exp: seconds(Date.now()) + 3600, ...claims })}.${signature}`;
}

/** Every kind of bad user token (docs/API.md "Users and access") for an application, by what is wrong with it. */
export async function badTokens(app: string, secret: string, otherSecret: string, otherApp: string): Promise<[string, string][]> {
  const user = { sub: "mallory", app };
  const now = seconds(Date.now());
  const good = await userToken(secret, user);
  return [
    ["expired", await userToken(secret, { ...user, exp: now - 10 })],
    ["not yet valid", await userToken(secret, { ...user, nbf: now + 3600 })],
    ["another application's secret", await userToken(otherSecret, user)],
    ["alg none", unsignedToken(user)],
    ["HS512", await userToken(secret, user, "HS512")],
    ["tampered payload", tampered(good, { sub: "admin", app })],
    ["app names another application", await userToken(secret, { sub: "mallory", app: otherApp })],
    ["no sub", await userToken(secret, { app })],
    ["no exp", await userToken(secret, { ...user, exp: null })],
    ["exp more than 30 days ahead", await userToken(secret, { ...user, exp: now + 31 * 86_400 })],
    ["malformed", "not-a-jwt"],
    ["truncated", good.slice(0, good.length - 5)],
  ];
}

/** A logger that keeps every line, to check what was (and was not) logged. */
export function capturingLogger(): { log: Logger; text(): string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  // The server's own logger setup, redaction included.
  return { log: createLogger("info", "test", sink), text: () => lines.join("") };
}
