import type { WriteQueue } from "../ports/queue.js";
import type { RecentReadMarkers } from "../ports/read-markers.js";
import type { Store } from "../ports/store.js";
import type { ChatService } from "./chat-service.js";
import { DomainError } from "./errors.js";
import { publishWrites } from "./publish-writes.js";
import type { ReadMarker, ReadState } from "./read-marker.js";
import type { User } from "./user.js";

export interface ReadMarkerDeps {
  chats: ChatService;
  store: Store;
  recent: RecentReadMarkers;
  queue: WriteQueue;
  now: () => number;
  /** A user's marker moved (for the chat's subscribers). */
  onMarked: (app: string, chat: number, user: User, number: number) => void;
}

/**
 * How many of a chat's newest versions `unread` reads exactly (the log, merged
 * with the store); below them it counts the store's live rows.
 */
const EXACT_TAIL = 200;

/**
 * Read markers: a user's marker per chat moves forward only, is
 * persisted through the queue like every write, and is read back at once
 * from the recent markers; `unread` counts from the numbers.
 */
export class ReadMarkerService {
  constructor(private readonly deps: ReadMarkerDeps) {}

  async state(app: string, chat: number, user: User): Promise<ReadState> {
    await this.deps.chats.getChat(app, chat);
    const number = await this.marker(app, chat, user.id);
    return { number, unread: await this.unread(app, chat, number) };
  }

  /** Moves the user's marker to `number`; one at or behind it changes nothing (markers never move backwards). */
  async mark(app: string, chat: number, user: User, number: number): Promise<ReadState> {
    await this.deps.chats.getChat(app, chat);
    if (number > (await this.deps.chats.latestNumber(app, chat)) && number > ((await this.deps.store.maxMessageNumber(app, chat)) ?? 0)) {
      throw new DomainError("validation_failed", "the request is not valid", [{ field: "number", message: "is above the chat's latest message" }]);
    }
    const current = await this.marker(app, chat, user.id);
    if (number <= current) return { number: current, unread: await this.unread(app, chat, current) };
    const marker: ReadMarker = { app, chat, user: user.id, number, updatedAt: this.deps.now() };
    await publishWrites(this.deps.queue, [{ kind: "read_marker", marker }]);
    const moved = await this.deps.recent.advance(app, chat, user.id, number);
    // A concurrent mark of the same user past this one told the subscribers itself.
    if (moved === number) this.deps.onMarked(app, chat, user, number);
    return { number: moved, unread: await this.unread(app, chat, moved) };
  }

  /** The greater of the persisted and the recent marker: either may be ahead (worker lag, expired recent entry). */
  private async marker(app: string, chat: number, user: string): Promise<number> {
    const [stored, recent] = await Promise.all([this.deps.store.findReadMarker(app, chat, user), this.deps.recent.get(app, chat, user)]);
    return Math.max(stored ?? 0, recent ?? 0);
  }

  /**
   * Messages above the marker that exist and are not deleted. The newest
   * EXACT_TAIL numbers come from the versions reads show (the log merged with
   * the store), so creates and deletes count at once; anything older is the
   * store's count of live rows, which trails deletions of old messages by the
   * worker's lag.
   */
  private async unread(app: string, chat: number, marker: number): Promise<number> {
    const newest = await this.deps.chats.latestVersions(app, chat, EXACT_TAIL);
    const above = newest.filter((m) => m.number > marker);
    const shown = above.filter((m) => !m.deleted).length;
    if (newest.length < EXACT_TAIL || above.length < newest.length) return shown;
    return shown + (await this.deps.store.countMessages(app, chat, marker, newest[newest.length - 1]!.number));
  }
}
