import type { Application, Chat, Message, SearchHit } from "../domain/types.js";

// The public JSON shapes (snake_case, RFC 3339 UTC). Built field by field from
// the domain types, which hold no internal ids, so none can leak.

const time = (ms: number): string => new Date(ms).toISOString();

export const applicationJson = (a: Application) => ({
  token: a.token,
  name: a.name,
  chats_count: a.chatsCount,
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
  created_at: time(m.createdAt),
  updated_at: time(m.updatedAt),
});

export const searchHitJson = (h: SearchHit) => ({ number: h.number, body: h.body, created_at: time(h.createdAt) });
