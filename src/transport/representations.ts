import type { ReadState } from "../domain/read-marker.js";
import type { Application, Chat, Message, SearchHit } from "../domain/types.js";
import type { User } from "../domain/user.js";

// The public JSON shapes (snake_case, RFC 3339 UTC). Built field by field from
// the domain types, which hold no internal ids, so none can leak.

const time = (ms: number): string => new Date(ms).toISOString();

/** `sender` in every representation of a message: `{id, name}`, or null for an anonymous write. */
export const senderJson = (sender: User | undefined): { id: string; name: string | null } | null => (sender ? { id: sender.id, name: sender.name } : null);

export const applicationJson = (a: Application, userTokensRequired: boolean) => ({
  token: a.token,
  name: a.name,
  chats_count: a.chatsCount,
  user_tokens_required: userTokensRequired,
  created_at: time(a.createdAt),
  updated_at: time(a.updatedAt),
});

export const chatJson = (c: Chat) => ({
  number: c.number,
  name: c.name,
  messages_count: c.messagesCount,
  created_at: time(c.createdAt),
  updated_at: time(c.updatedAt),
});

export const messageJson = (m: Message) => ({
  number: m.number,
  chat_number: m.chat,
  body: m.body,
  sender: senderJson(m.sender),
  created_at: time(m.createdAt),
  updated_at: time(m.updatedAt),
});

export const searchHitJson = (h: SearchHit) => ({ number: h.number, body: h.body, sender: senderJson(h.sender), created_at: time(h.createdAt) });

export const userJson = (u: User) => ({ id: u.id, name: u.name });

export const readStateJson = (r: ReadState) => ({ number: r.number, unread: r.unread });
