/** A user of an application, as the application's own backend named them in a user token. */
export interface User {
  /** The token's `sub`: 1–64 characters, the application's own user id. */
  id: string;
  /** The token's `name` (display name), null when it had none. */
  name: string | null;
}
