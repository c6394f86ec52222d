/**
 * How far one user has read one chat: the highest message number they
 * marked read (0 before the first mark). It only moves forward, so applying
 * marks in any order, or twice, ends at the highest one.
 */
export interface ReadMarker {
  app: string;
  chat: number;
  /** The user's id (a user token's sub). */
  user: string;
  number: number;
  updatedAt: number;
}

/** What a user sees of a chat: their marker and how many messages lie above it. */
export interface ReadState {
  number: number;
  /** Messages numbered above the marker that exist and are not deleted. */
  unread: number;
}
