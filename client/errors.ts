import type { FieldError } from "./types.js";

/** A REST call the server answered with an error (`{"error": {code, message, details?}}`). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: FieldError[];

  constructor(status: number, code: string, message: string, details: FieldError[] = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** A WebSocket operation the server answered with an `error` frame, or one the socket gave up on. */
export class SocketError extends Error {
  readonly code: string;
  readonly details: FieldError[];

  constructor(code: string, message: string, details: FieldError[] = []) {
    super(message);
    this.name = "SocketError";
    this.code = code;
    this.details = details;
  }
}
