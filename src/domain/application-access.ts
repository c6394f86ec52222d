/**
 * Who may act on an application. The secret is kept as it is, not hashed:
 * verifying an HS256 signature needs the key itself (docs/DESIGN.md).
 */
export interface ApplicationAccess {
  secret: string;
  /** The secret before the last rotation; it verifies until `previousSecretUntil` (epoch ms). */
  previousSecret: string | null;
  previousSecretUntil: number | null;
  /** Closed application: every chat and message operation needs a user token. */
  userTokensRequired: boolean;
}
