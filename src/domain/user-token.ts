import { CredentialRefused } from "./errors.js";
import { limits } from "./limits.js";
import type { User } from "./user.js";

/** A user token may be valid for at most this long from now (its `exp`). */
export const USER_TOKEN_MAX_LIFETIME_MS = 30 * 86_400_000;
/** Longer credentials are refused before any parsing: a header is no place for megabytes. */
export const USER_TOKEN_MAX_CHARS = 8192;
const USER_ID_MAX_CHARS = 64;
const CHATS_CLAIM_MAX = 10_000;

/**
 * What a verified user token says: who acts, for which
 * application, on which chats (null: every chat), until when.
 */
export interface Identity {
  app: string;
  user: User;
  chats: ReadonlySet<number> | null;
  /** `exp`, in epoch ms: a socket's identity ends there. */
  expiresAt: number;
}

/**
 * Checks the claims of a token whose signature and time claims (exp, nbf)
 * the verifier already checked. Every rule here is a 401: a token that does
 * not say exactly who acts for which application names nobody.
 */
export function identityOf(claims: Record<string, unknown>, app: string, now: number): Identity {
  const { sub, name, exp, chats } = claims;
  if (claims.app !== app) throw new CredentialRefused("the token is for another application");
  if (typeof sub !== "string" || sub.length < 1 || sub.length > USER_ID_MAX_CHARS || !sub.isWellFormed()) {
    throw new CredentialRefused(`sub must be a string of 1 to ${USER_ID_MAX_CHARS} characters`);
  }
  if (name !== undefined && !(typeof name === "string" && name.length <= limits.nameMaxChars && name.isWellFormed())) {
    throw new CredentialRefused(`name must be a string of at most ${limits.nameMaxChars} characters`);
  }
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw new CredentialRefused("exp is required");
  const expiresAt = exp * 1000;
  if (expiresAt - now > USER_TOKEN_MAX_LIFETIME_MS) throw new CredentialRefused("exp is more than 30 days ahead");
  return { app, user: { id: sub, name: typeof name === "string" && name !== "" ? name : null }, chats: chatsClaim(chats), expiresAt };
}

function chatsClaim(value: unknown): ReadonlySet<number> | null {
  if (value === undefined) return null;
  const valid = Array.isArray(value) && value.length <= CHATS_CLAIM_MAX && value.every((n) => Number.isInteger(n) && n >= 1 && n <= limits.numberMax);
  if (!valid) throw new CredentialRefused(`chats must be an array of at most ${CHATS_CLAIM_MAX} chat numbers`);
  return new Set(value as number[]);
}
