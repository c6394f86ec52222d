import { createHash, timingSafeEqual } from "node:crypto";
import type { Store } from "../ports/store.js";
import type { UserTokens } from "../ports/user-tokens.js";
import type { ApplicationAccess } from "./application-access.js";
import { CredentialRefused, forbidden, identityRequired, notFound } from "./errors.js";
import { isCanonicalToken } from "./token.js";
import type { User } from "./user.js";
import { identityOf, type Identity } from "./user-token.js";

export interface AccessControlDeps {
  store: Store;
  tokens: UserTokens;
  /** ≥ 256 bits from the CSPRNG, base64url. */
  newSecret: () => string;
  /** After a rotation the previous secret keeps verifying this long (10 minutes), so running clients can switch over. */
  secretGraceMs: number;
  now: () => number;
}

/** Who acts in one operation, once the application's rules applied. */
export interface Actor {
  /** Null: anonymous (open applications only). */
  user: User | null;
  /** Closed application: a message is edited and deleted by its sender only. */
  ownMessagesOnly: boolean;
}

export const ANONYMOUS: Actor = { user: null, ownMessagesOnly: false };

/** How long a process trusts what it read of an application's access before renewing it (closing takes effect within about this, once the store answers). */
const TRUST_MS = 2000;
/** A refused token re-reads the access at most this often: a secret rotated on another process is then seen at once. */
const REREAD_MS = 1000;
const CACHED_APPS_MAX = 10_000;

/**
 * Application secrets, user tokens and the open/closed rule. Every
 * chat and message operation asks `actor` first; what it answers is the
 * only way a user reaches the chat service.
 */
export class AccessControl {
  private readonly cache = new Map<string, { access: ApplicationAccess | null; readAt: number }>();
  private readonly renewing = new Set<string>();

  constructor(private readonly deps: AccessControlDeps) {}

  /** A new application's first secret, returned to its creator once. */
  async issueSecret(app: string): Promise<string> {
    const secret = this.deps.newSecret();
    await this.deps.store.insertAccess(app, { secret, previousSecret: null, previousSecretUntil: null, userTokensRequired: false });
    this.cache.delete(app);
    return secret;
  }

  /**
   * A new secret; the current one keeps verifying for `secretGraceMs`. Needs
   * the current secret, or (`byAdmin`) the admin key for an application
   * created before applications had secrets.
   */
  async rotateSecret(app: string, presented: string | null, byAdmin: boolean): Promise<string> {
    const access = await this.read(app, true);
    const next = this.deps.newSecret();
    if (!access) {
      if (!byAdmin) throw new CredentialRefused("this application has no secret yet: the admin key issues its first");
      if (!(await this.deps.store.issueMissingSecret(app, next))) throw new CredentialRefused("the secret changed meanwhile");
    } else {
      if (presented === null || !sameSecret(presented, access.secret)) throw new CredentialRefused("rotating needs the current secret");
      if (!(await this.deps.store.rotateSecret(app, access.secret, next, this.deps.now() + this.deps.secretGraceMs))) {
        throw new CredentialRefused("the secret was rotated meanwhile");
      }
    }
    this.cache.delete(app);
    return next;
  }

  /** Settings of the application itself take its current secret. */
  async requireSecret(app: string, presented: string | null): Promise<void> {
    const access = await this.read(app, true);
    if (!access || presented === null || !sameSecret(presented, access.secret)) throw new CredentialRefused("this needs the application's current secret");
  }

  async setUserTokensRequired(app: string, required: boolean): Promise<void> {
    await this.deps.store.setUserTokensRequired(app, required);
    this.cache.delete(app);
  }

  async userTokensRequired(app: string): Promise<boolean> {
    return (await this.read(app))?.userTokensRequired ?? false;
  }

  /** The identity a user token names for `app`; null when none was presented. A bad one is refused (401), on open applications too. */
  async identify(app: string, token: string | null): Promise<Identity | null> {
    if (token === null) return null;
    if (!isCanonicalToken(app)) throw notFound("application");
    try {
      return await this.verify(app, token, false);
    } catch (err) {
      // Possibly signed with a secret rotated on another process after this one read it.
      if (!(err instanceof CredentialRefused) || this.deps.now() - (this.cache.get(app)?.readAt ?? 0) < REREAD_MS) throw err;
      return this.verify(app, token, true);
    }
  }

  /** A socket's `auth` frame carries no application: the token names it. */
  async identifyByToken(token: string): Promise<Identity> {
    const app = this.deps.tokens.claimedApp(token);
    if (app === null || !isCanonicalToken(app)) throw new CredentialRefused("the token names no application");
    return (await this.identify(app, token))!;
  }

  /**
   * The actor of one operation on `app` (on `chat`, when it concerns one).
   * An identity of another application counts as none (a socket carries
   * one identity and may visit other applications anonymously). Closed
   * applications need an identity (401); a `chats` claim limits which chats
   * a token reaches (403), on open applications too.
   */
  async actor(app: string, chat: number | null, identity: Identity | null): Promise<Actor> {
    const own = identity !== null && identity.app === app ? identity : null;
    if (own && own.expiresAt <= this.deps.now()) throw new CredentialRefused("the token has expired");
    const closed = await this.userTokensRequired(app);
    if (!own) {
      if (closed) throw identityRequired("this application");
      return ANONYMOUS;
    }
    if (chat !== null && !reaches(own, chat)) throw forbidden("the user token does not grant this chat");
    return { user: own.user, ownMessagesOnly: closed };
  }

  private async verify(app: string, token: string, reread: boolean): Promise<Identity> {
    const access = await this.read(app, reread);
    if (!access) {
      if (!(await this.deps.store.findApplication(app))) throw notFound("application");
      throw new CredentialRefused("this application has no secret to verify user tokens with");
    }
    const now = this.deps.now();
    const secrets = [access.secret];
    if (access.previousSecret !== null && (access.previousSecretUntil ?? 0) > now) secrets.push(access.previousSecret);
    return identityOf(await this.deps.tokens.verify(token, secrets, now), app, now);
  }

  /**
   * What this process knows of an application's access. Past TRUST_MS the
   * known value still answers while one read in the background renews it, so
   * creates never wait on MySQL once a process has seen the application (a
   * frozen MySQL must not stop them); only a first sight, a rotation or a
   * refused token waits for the store.
   */
  private async read(app: string, reread = false): Promise<ApplicationAccess | null> {
    const cached = this.cache.get(app);
    if (cached && !reread) {
      if (this.deps.now() - cached.readAt >= TRUST_MS) this.renew(app);
      return cached.access;
    }
    return this.load(app);
  }

  private renew(app: string): void {
    if (this.renewing.has(app)) return;
    this.renewing.add(app);
    this.load(app)
      .catch(() => undefined) // the known value keeps answering; the next use tries again
      .finally(() => this.renewing.delete(app));
  }

  private async load(app: string): Promise<ApplicationAccess | null> {
    const readAt = this.deps.now();
    const access = await this.deps.store.findAccess(app);
    this.cache.delete(app); // re-inserted last: the oldest entry goes first
    this.cache.set(app, { access, readAt });
    if (this.cache.size > CACHED_APPS_MAX) this.cache.delete(this.cache.keys().next().value as string);
    return access;
  }
}

/** Whether a token's `chats` claim reaches `chat` (no claim: every chat). */
export function reaches(identity: Identity, chat: number): boolean {
  return identity.chats === null || identity.chats.has(chat);
}

/** Operations that act as a user (typing, read markers) need one. */
export function userOf(actor: Actor, what: string): User {
  if (!actor.user) throw identityRequired(what);
  return actor.user;
}

/** Constant-time: digests of equal length, compared with timingSafeEqual. */
function sameSecret(presented: string, secret: string): boolean {
  const digest = (s: string): Buffer => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(presented), digest(secret));
}
