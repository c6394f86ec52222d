import type { JSONSchemaType } from "ajv";
import { limits } from "../../domain/limits.js";

// Request schemas: the single source for validation and the OpenAPI document.
// Unknown fields are ignored (older form clients send extras), not rejected.

export interface NameBody {
  name: string;
}
export interface OptionalNameBody {
  name?: string;
}
export interface MessageBody {
  body: string;
}
/** At least one of the two; the handler says so when neither is given. */
export interface ApplicationSettingsBody {
  name?: string;
  user_tokens_required?: boolean;
}

/**
 * ajv's JSONSchemaType demands `nullable: true` on every optional property,
 * which would also let JSON null through (and with coerceTypes turn an empty
 * query value into null). Null is never a valid value here, so the flag lives
 * in the type only and null is 400 like any other wrong type.
 */
const optional = <S extends object>(schema: S): S & { nullable: true } => schema as S & { nullable: true };

const name = { type: "string", minLength: limits.nameMinChars, maxLength: limits.nameMaxChars } as const;
/** Byte length is checked after the schema (JSON Schema counts characters). */
const body = { type: "string", minLength: 1, maxLength: limits.bodyMaxBytes } as const;

export const nameBody: JSONSchemaType<NameBody> = {
  type: "object",
  properties: { name },
  required: ["name"],
};

export const optionalNameBody: JSONSchemaType<OptionalNameBody> = {
  type: "object",
  properties: { name: optional(name) },
  required: [],
};

export const applicationSettingsBody: JSONSchemaType<ApplicationSettingsBody> = {
  type: "object",
  properties: { name: optional(name), user_tokens_required: optional({ type: "boolean" } as const) },
  required: [],
};

export interface ReadBody {
  number: number;
}

export const readBody: JSONSchemaType<ReadBody> = {
  type: "object",
  properties: { number: { type: "integer", minimum: 0, maximum: limits.numberMax } },
  required: ["number"],
};

export const messageBody: JSONSchemaType<MessageBody> = {
  type: "object",
  properties: { body },
  required: ["body"],
};

// Query strings arrive as text; `coerceTypes` turns digits into integers.
const cursorNumber = optional({ type: "integer", minimum: 0, maximum: limits.numberMax } as const);
const limit = optional({ type: "integer", minimum: 1, maximum: limits.pageMax } as const);

export interface PageQuery {
  limit?: number;
  after?: number;
}
export interface MessagePageQuery extends PageQuery {
  before?: number;
}
export interface TokenPageQuery {
  limit?: number;
  after?: string;
}
export interface SearchQuery {
  q: string;
  limit?: number;
  after?: string;
}

export const pageQuery: JSONSchemaType<PageQuery> = {
  type: "object",
  properties: { limit, after: cursorNumber },
  required: [],
};

export const messagePageQuery: JSONSchemaType<MessagePageQuery> = {
  type: "object",
  properties: { limit, after: cursorNumber, before: cursorNumber },
  required: [],
  not: { required: ["after", "before"] },
};

export const tokenPageQuery: JSONSchemaType<TokenPageQuery> = {
  type: "object",
  properties: { limit, after: optional({ type: "string", maxLength: 64, pattern: "^[A-Za-z0-9_-]*$" } as const) },
  required: [],
};

export const searchQuery: JSONSchemaType<SearchQuery> = {
  type: "object",
  properties: {
    q: { type: "string", minLength: 1, maxLength: limits.searchQueryMaxChars, pattern: "\\S" },
    limit,
    after: optional({ type: "string", maxLength: 512 } as const),
  },
  required: ["q"],
};

// Response schemas, for the OpenAPI document.
const timestamp = { type: "string", format: "date-time" } as const;
/** The user token's sub and name; null for an anonymous write. */
const sender = { oneOf: [{ $ref: "#/components/schemas/User" }, { type: "null" }] } as const;
export const responseSchemas = {
  Application: {
    type: "object",
    properties: {
      token: { type: "string" },
      name: { type: "string" },
      chats_count: { type: "integer" },
      user_tokens_required: { type: "boolean" },
      created_at: timestamp,
      updated_at: timestamp,
    },
    required: ["token", "name", "chats_count", "user_tokens_required", "created_at", "updated_at"],
  },
  NewApplication: {
    type: "object",
    description: "An Application and its secret, shown this once: it signs user tokens (JWT HS256) and authorizes the application's settings.",
    allOf: [{ $ref: "#/components/schemas/Application" }, { type: "object", properties: { secret: { type: "string" } }, required: ["secret"] }],
  },
  Secret: {
    type: "object",
    properties: { secret: { type: "string", description: "the new secret; the previous one keeps verifying for 10 minutes" } },
    required: ["secret"],
  },
  Chat: {
    type: "object",
    properties: { number: { type: "integer" }, name: { type: ["string", "null"] }, messages_count: { type: "integer" }, created_at: timestamp, updated_at: timestamp },
    required: ["number", "name", "messages_count", "created_at", "updated_at"],
  },
  Message: {
    type: "object",
    properties: { number: { type: "integer" }, chat_number: { type: "integer" }, body: { type: "string" }, sender, created_at: timestamp, updated_at: timestamp },
    required: ["number", "chat_number", "body", "sender", "created_at", "updated_at"],
  },
  SearchHit: {
    type: "object",
    properties: { number: { type: "integer" }, body: { type: "string" }, sender, created_at: timestamp },
    required: ["number", "body", "sender", "created_at"],
  },
  ReadState: {
    type: "object",
    properties: {
      number: { type: "integer", description: "the highest message number the user marked read (0 before the first)" },
      unread: { type: "integer", description: "messages above it that exist and are not deleted" },
    },
    required: ["number", "unread"],
  },
  Presence: {
    type: "object",
    properties: { data: { type: "array", items: { $ref: "#/components/schemas/User" } } },
    required: ["data"],
  },
  User: {
    type: "object",
    properties: { id: { type: "string" }, name: { type: ["string", "null"] } },
    required: ["id", "name"],
  },
  Error: {
    type: "object",
    properties: {
      error: {
        type: "object",
        properties: {
          code: { type: "string" },
          message: { type: "string" },
          details: { type: "array", items: { type: "object", properties: { field: { type: "string" }, message: { type: "string" } } } },
        },
        required: ["code", "message"],
      },
    },
    required: ["error"],
  },
} as const;
