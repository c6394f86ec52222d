import { decodeJwt, errors, jwtVerify } from "jose";
import { CredentialRefused } from "../../domain/errors.js";
import { USER_TOKEN_MAX_CHARS } from "../../domain/user-token.js";
import type { UserTokens } from "../../ports/user-tokens.js";

const encoder = new TextEncoder();

/**
 * User tokens checked by `jose`: HS256 is the only algorithm accepted (so
 * `alg: none`, HS512 or a public-key algorithm are refused before any key is
 * used), `exp` and `sub` are required, `exp`/`nbf` hold at `now` with no
 * tolerance. Reasons are fixed strings: jose's errors carry the payload, so
 * none of them is passed on or logged.
 */
export class JoseUserTokens implements UserTokens {
  async verify(token: string, secrets: readonly string[], now: number): Promise<Record<string, unknown>> {
    if (token.length > USER_TOKEN_MAX_CHARS) throw new CredentialRefused("the token is too long");
    for (let i = 0; i < secrets.length; i++) {
      try {
        const { payload } = await jwtVerify(token, encoder.encode(secrets[i]), {
          algorithms: ["HS256"],
          requiredClaims: ["exp", "sub"],
          currentDate: new Date(now),
        });
        return payload as Record<string, unknown>;
      } catch (err) {
        // Another secret may have signed it (the previous one, during its grace period).
        if (err instanceof errors.JWSSignatureVerificationFailed && i < secrets.length - 1) continue;
        throw new CredentialRefused(reasonOf(err));
      }
    }
    throw new CredentialRefused("the application has no secret to verify with");
  }

  claimedApp(token: string): string | null {
    if (token.length > USER_TOKEN_MAX_CHARS) return null;
    try {
      const { app } = decodeJwt(token);
      return typeof app === "string" ? app : null;
    } catch {
      return null;
    }
  }
}

function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "the token has expired";
  if (err instanceof errors.JWTClaimValidationFailed) return err.claim === "nbf" ? "the token is not valid yet" : `the ${err.claim} claim is missing or invalid`;
  if (err instanceof errors.JOSEAlgNotAllowed) return "only HS256 tokens are accepted";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "the signature does not match the application's secret";
  return "the token is malformed";
}
