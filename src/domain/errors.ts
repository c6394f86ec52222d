// Domain failures carry a stable machine code; transports map codes to status
// codes and frames. Nothing here ever holds an internal id or a stack.

export type ErrorCode =
  | "invalid_json"
  | "validation_failed"
  | "not_found"
  | "method_not_allowed"
  | "payload_too_large"
  | "unsupported_media_type"
  | "rate_limited"
  | "unavailable"
  | "forbidden"
  | "unauthorized"
  | "idempotency_conflict";

export interface FieldError {
  field: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: FieldError[],
  ) {
    super(message);
    this.name = "DomainError";
  }
}

export const notFound = (what: string): DomainError => new DomainError("not_found", `${what} not found`);

export const forbidden = (message: string): DomainError => new DomainError("forbidden", message);

/**
 * A user token (or an application secret) that was refused: 401. `reason`
 * says why, for the log line; neither carries the credential itself.
 */
export class CredentialRefused extends DomainError {
  constructor(readonly reason: string) {
    super("unauthorized", `the credential was refused: ${reason}`);
  }
}

/** An operation that acts as a user was asked for without a user token: 401. */
export const identityRequired = (what: string): DomainError => new DomainError("unauthorized", `${what} needs a user token`);

/** A backend is unreachable or recovering: the caller may retry after a moment. */
export class UnavailableError extends DomainError {
  constructor(
    message: string,
    readonly retryAfterSeconds = 1,
  ) {
    super("unavailable", message);
  }
}

/** Admission control refused a create: MAX_INFLIGHT_CREATES are in flight. */
export const tooManyCreates = (): UnavailableError => new UnavailableError("too many creates in flight; retry shortly", 1);
