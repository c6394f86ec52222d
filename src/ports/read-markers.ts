/**
 * Users' read markers as they are right now (Redis in cluster mode, in the
 * chat's slot): a marker moved a moment ago is read back at once, before the
 * worker persisted it. Entries expire; the store is the truth.
 */
export interface RecentReadMarkers {
  /** Moves the user's marker to `number` unless it already is past it, in one step; answers the marker after the move. */
  advance(app: string, chat: number, user: string, number: number): Promise<number>;
  /** Null when this user has no recent marker for the chat. */
  get(app: string, chat: number, user: string): Promise<number | null>;
}
