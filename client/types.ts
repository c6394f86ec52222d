// The API's JSON shapes, exactly as they travel (snake_case, RFC 3339 UTC
// timestamps). The client hands them on unchanged, so what a caller reads is
// what the server sent.

export interface Application {
  token: string;
  name: string;
  chats_count: number;
  /** Closed: every chat and message call needs a user token. */
  user_tokens_required: boolean;
  created_at: string;
  updated_at: string;
}

/** A new application: its secret is shown this once (it signs user tokens and authorizes settings). */
export interface NewApplication extends Application {
  secret: string;
}

/** A user, as a user token names them (`sub`, `name`). */
export interface User {
  id: string;
  name: string | null;
}

/** A user's read marker of a chat, and the messages above it that exist. */
export interface ReadState {
  number: number;
  unread: number;
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
  /** Null for an anonymous write. */
  sender: User | null;
  created_at: string;
  updated_at: string;
}

export interface SearchHit {
  number: number;
  body: string;
  sender: User | null;
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
  sender: User | null;
  created_at: string;
}

/** A `message_deleted` frame: the number stays taken, the message is gone. */
export interface LiveMessageDeleted {
  app: string;
  chat: number;
  number: number;
}

/** `presence_joined` / `presence_left`: a user's first socket anywhere subscribed, or their last one went. */
export interface LivePresenceChange {
  app: string;
  chat: number;
  user: User;
}

/** A `typing` frame: another user is typing (at most one per user per second). */
export interface LiveTyping {
  app: string;
  chat: number;
  user: User;
}

/** A `read` frame: a user's read marker moved. */
export interface LiveRead {
  app: string;
  chat: number;
  user: User;
  number: number;
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
