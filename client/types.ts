// The API's JSON shapes, exactly as they travel (snake_case, RFC 3339 UTC
// timestamps). The client hands them on unchanged, so what a caller reads is
// what the server sent.

export interface Application {
  token: string;
  name: string;
  chats_count: number;
  created_at: string;
  updated_at: string;
}

export interface Chat {
  number: number;
  name: string | null;
  messages_count: number;
  created_at: string;
  updated_at: string;
}

export interface Message {
  number: number;
  chat_number: number;
  body: string;
  created_at: string;
  updated_at: string;
}

export interface SearchHit {
  number: number;
  body: string;
  created_at: string;
}

/** One page of a list; pass `next` back as the cursor for the following page (null: the last page). */
export interface Page<T> {
  data: T[];
  next: string | null;
}

export interface FieldError {
  field: string;
  message: string;
}

/** A `message` frame: a new message in a chat the socket subscribes to. */
export interface LiveMessage {
  app: string;
  chat: number;
  number: number;
  body: string;
  created_at: string;
}

/** A `message_updated` frame: an edit. */
export interface LiveMessageUpdate extends LiveMessage {
  updated_at: string;
}

/** A `chat_created` frame, to application subscribers. */
export interface LiveChatCreated {
  app: string;
  number: number;
}
