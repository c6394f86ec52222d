/**
 * User tokens are JWTs an application's backend signs with the application's
 * secret. This port checks what needs a cryptographic library: the
 * signature, with the algorithm pinned to HS256, and the time claims. What
 * the claims mean is the domain's (domain/user-token.ts).
 */
export interface UserTokens {
  /**
   * The claims of a token signed (HS256, the secret's UTF-8 bytes as the key)
   * with one of `secrets`, and neither expired nor not yet valid at `now`.
   * Anything else throws CredentialRefused, whose reason never quotes the token.
   */
  verify(token: string, secrets: readonly string[], now: number): Promise<Record<string, unknown>>;
  /** The `app` claim, read without checking anything: which application's secrets to verify with. */
  claimedApp(token: string): string | null;
}
