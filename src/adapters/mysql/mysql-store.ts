import mysql, { type Pool, type PoolConnection, type ResultSetHeader, type RowDataPacket } from "mysql2/promise";
import type { ApplicationAccess } from "../../domain/application-access.js";
import type { ReadMarker } from "../../domain/read-marker.js";
import { applicationOf } from "../../domain/write-event-app.js";
import type { Application, Chat, Message, MessageRange, WriteEvent } from "../../domain/types.js";
import type { AppliedWrites, MessageKey, Store } from "../../ports/store.js";

const APP_COLUMNS = "a.token, a.name, a.chats_count, a.created_at, a.updated_at";
const CHAT_COLUMNS = "a.token, c.number, c.name, c.messages_count, c.created_at, c.updated_at";
const MESSAGE_COLUMNS = "a.token, c.number AS chat_number, m.number, m.body, m.created_at, m.updated_at, m.sender_id, m.sender_name, m.deleted_at";
const FROM_MESSAGES =
  "FROM messages m JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id";

/**
 * Retried on deadlock or lock timeout: two workers touching the same count
 * rows, or a rename updating an application row that a worker batch holds
 * (it inserts chats under it, then raises its chats_count).
 */
const RETRYABLE = new Set(["ER_LOCK_DEADLOCK", "ER_LOCK_WAIT_TIMEOUT"]);
const MAX_ATTEMPTS = 5;

/** Runs `work` again when InnoDB rolled it back for a lock conflict, after a short random pause so the racers part. */
async function retryingLockConflicts<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= MAX_ATTEMPTS || !RETRYABLE.has((err as { code?: string }).code ?? "")) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}

/** MySQL/MariaDB store. Every statement is parameterized and served by an index. */
export class MysqlStore implements Store {
  readonly pool: Pool;
  /** token → internal id; immutable once created, so keeping them is safe. */
  private readonly appIds = new Map<string, number>();
  private readonly chatIds = new ChatIds(200_000);

  constructor(url: URL, connectionLimit = 10) {
    this.pool = mysql.createPool({
      uri: url.toString(),
      connectionLimit,
      timezone: "Z",
      supportBigNumbers: true,
      enableKeepAlive: true,
      connectTimeout: 5000,
    });
  }

  async insertApplication(app: Application): Promise<void> {
    await this.pool.execute(
      "INSERT INTO applications (token, name, chats_count, created_at, updated_at) VALUES (?, ?, 0, ?, ?)",
      [app.token, app.name, new Date(app.createdAt), new Date(app.updatedAt)],
    );
  }

  async findApplication(token: string): Promise<Application | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(`SELECT ${APP_COLUMNS} FROM applications a WHERE a.token = ?`, [token]);
    return rows[0] ? toApplication(rows[0]) : null;
  }

  async renameApplication(token: string, name: string, updatedAt: number): Promise<Application | null> {
    await retryingLockConflicts(() => this.pool.execute("UPDATE applications SET name = ?, updated_at = ? WHERE token = ?", [name, new Date(updatedAt), token]));
    return this.findApplication(token);
  }

  async listApplications(afterToken: string | null, limit: number): Promise<Application[]> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT ${APP_COLUMNS} FROM applications a WHERE a.token > ? ORDER BY a.token LIMIT ${int(limit)}`,
      [afterToken ?? ""],
    );
    return rows.map(toApplication);
  }

  async insertAccess(token: string, access: ApplicationAccess): Promise<void> {
    await this.pool.execute(
      `INSERT INTO application_access (application_id, secret, previous_secret, previous_secret_until, user_tokens_required)
       SELECT id, ?, ?, ?, ? FROM applications WHERE token = ?`,
      [access.secret, access.previousSecret, access.previousSecretUntil === null ? null : d(access.previousSecretUntil), access.userTokensRequired ? 1 : 0, token],
    );
  }

  async findAccess(token: string): Promise<ApplicationAccess | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT x.secret, x.previous_secret, x.previous_secret_until, x.user_tokens_required
       FROM application_access x JOIN applications a ON a.id = x.application_id WHERE a.token = ?`,
      [token],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      secret: String(r.secret),
      previousSecret: r.previous_secret == null ? null : String(r.previous_secret),
      previousSecretUntil: r.previous_secret_until == null ? null : ms(r.previous_secret_until),
      userTokensRequired: Number(r.user_tokens_required) === 1,
    };
  }

  async rotateSecret(token: string, current: string, next: string, previousUntil: number): Promise<boolean> {
    const [result] = await this.pool.execute<ResultSetHeader>(
      `UPDATE application_access x JOIN applications a ON a.id = x.application_id
       SET x.previous_secret = ?, x.previous_secret_until = ?, x.secret = ?
       WHERE a.token = ? AND x.secret = ?`,
      [current, d(previousUntil), next, token, current],
    );
    return result.affectedRows === 1;
  }

  async issueMissingSecret(token: string, secret: string): Promise<boolean> {
    const [result] = await this.pool.execute<ResultSetHeader>(
      "INSERT IGNORE INTO application_access (application_id, secret, user_tokens_required) SELECT id, ?, 0 FROM applications WHERE token = ?",
      [secret, token],
    );
    return result.affectedRows === 1;
  }

  async setUserTokensRequired(token: string, required: boolean): Promise<void> {
    await this.pool.execute(
      "UPDATE application_access x JOIN applications a ON a.id = x.application_id SET x.user_tokens_required = ? WHERE a.token = ?",
      [required ? 1 : 0, token],
    );
  }

  async findChat(app: string, number: number): Promise<Chat | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT ${CHAT_COLUMNS} FROM chats c JOIN applications a ON a.id = c.application_id WHERE a.token = ? AND c.number = ?`,
      [app, number],
    );
    return rows[0] ? toChat(rows[0]) : null;
  }

  async listChats(app: string, afterNumber: number, limit: number): Promise<Chat[]> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT ${CHAT_COLUMNS} FROM chats c JOIN applications a ON a.id = c.application_id
       WHERE a.token = ? AND c.number > ? ORDER BY c.number LIMIT ${int(limit)}`,
      [app, afterNumber],
    );
    return rows.map(toChat);
  }

  async findMessage(app: string, chat: number, number: number): Promise<Message | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT ${MESSAGE_COLUMNS} ${FROM_MESSAGES} WHERE a.token = ? AND c.number = ? AND m.number = ?`,
      [app, chat, number],
    );
    return rows[0] ? toMessage(rows[0]) : null;
  }

  async listMessages(app: string, chat: number, range: MessageRange, limit: number): Promise<Message[]> {
    const [condition, order, bound] =
      range.direction === "after"
        ? ["m.number > ?", "ASC", range.number]
        : range.direction === "before"
          ? ["m.number < ?", "DESC", range.number]
          : ["m.number > ?", "DESC", 0];
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT ${MESSAGE_COLUMNS} ${FROM_MESSAGES}
       WHERE a.token = ? AND c.number = ? AND ${condition} ORDER BY m.number ${order} LIMIT ${int(limit)}`,
      [app, chat, bound],
    );
    return rows.map(toMessage);
  }

  async countMessages(app: string, chat: number, after: number, before: number): Promise<number> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT COUNT(*) AS n ${FROM_MESSAGES} WHERE a.token = ? AND c.number = ? AND m.deleted_at IS NULL AND m.number > ? AND m.number < ?`,
      [app, chat, after, Math.min(before, 2 ** 32)],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async findReadMarker(app: string, chat: number, user: string): Promise<number | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT r.number FROM read_markers r JOIN chats c ON c.id = r.chat_id JOIN applications a ON a.id = c.application_id
       WHERE a.token = ? AND c.number = ? AND r.user_id = ?`,
      [app, chat, user],
    );
    return rows[0] ? Number(rows[0].number) : null;
  }

  async maxChatNumber(app: string): Promise<number | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      "SELECT MAX(c.number) AS n FROM chats c JOIN applications a ON a.id = c.application_id WHERE a.token = ?",
      [app],
    );
    return rows[0]?.n == null ? null : Number(rows[0].n);
  }

  async maxMessageNumber(app: string, chat: number): Promise<number | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT MAX(m.number) AS n ${FROM_MESSAGES} WHERE a.token = ? AND c.number = ?`,
      [app, chat],
    );
    return rows[0]?.n == null ? null : Number(rows[0].n);
  }

  async scanMessages(after: MessageKey | null, limit: number): Promise<Message[]> {
    // Keyset over the unique key (chat_id, number); the caller's key is
    // resolved back to its chat id.
    let position: [number, number] = [0, 0];
    if (after) {
      const [rows] = await this.pool.execute<RowDataPacket[]>(
        "SELECT c.id FROM chats c JOIN applications a ON a.id = c.application_id WHERE a.token = ? AND c.number = ?",
        [after.app, after.chat],
      );
      position = [Number(rows[0]?.id ?? 0), after.number];
    }
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT ${MESSAGE_COLUMNS} ${FROM_MESSAGES}
       WHERE m.chat_id > ? OR (m.chat_id = ? AND m.number > ?)
       ORDER BY m.chat_id, m.number LIMIT ${int(limit)}`,
      [position[0], position[0], position[1]],
    );
    return rows.map(toMessage);
  }

  async applyWrites(events: WriteEvent[]): Promise<AppliedWrites> {
    if (events.length === 0) return { rejected: [] };
    const appIds = await this.resolveAppIds([...new Set(events.map(applicationOf))]);
    // Writes for an application that does not exist cannot be applied by
    // retrying; they go back to the caller, which dead-letters them.
    const known = events.filter((e) => appIds.has(applicationOf(e)));
    const rejected = events.filter((e) => !appIds.has(applicationOf(e)));
    if (known.length === 0) return { rejected };
    await retryingLockConflicts(async () => {
      const conn = await this.pool.getConnection();
      try {
        await conn.beginTransaction();
        const batch = new WriteBatch(conn, appIds, this.chatIds);
        await batch.apply(known);
        await conn.commit();
        this.chatIds.remember(batch.learnt);
      } catch (err) {
        await conn.rollback().catch(() => undefined);
        throw err;
      } finally {
        conn.release();
      }
    });
    return { rejected };
  }

  async reconcileCounts(cursor: string | null, batch: number): Promise<{ cursor: string | null; repaired: number }> {
    // The sweep walks chats then applications by internal id, in slices.
    const [phase, last] = cursor ? [cursor[0], Number(cursor.slice(2))] : ["c", 0];
    // Deleted messages are tombstone rows: a chat counts its live ones.
    const [table, child, fk, column, live] =
      phase === "c" ? ["chats", "messages", "chat_id", "messages_count", " AND x.deleted_at IS NULL"] : ["applications", "chats", "application_id", "chats_count", ""];
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT t.id, t.${column} AS stored, (SELECT COUNT(*) FROM ${child} x WHERE x.${fk} = t.id${live}) AS actual
       FROM ${table} t WHERE t.id > ? ORDER BY t.id LIMIT ${int(batch)}`,
      [last],
    );
    let repaired = 0;
    for (const row of rows) {
      if (Number(row.stored) === Number(row.actual)) continue;
      await this.pool.query(
        `UPDATE ${table} t SET t.${column} = (SELECT COUNT(*) FROM ${child} x WHERE x.${fk} = t.id${live}) WHERE t.id = ?`,
        [row.id],
      );
      repaired++;
    }
    const lastRow = rows[rows.length - 1];
    if (rows.length === batch && lastRow) return { cursor: `${phase}:${lastRow.id}`, repaired };
    return { cursor: phase === "c" ? "a:0" : null, repaired };
  }

  async ping(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async resolveAppIds(tokens: string[]): Promise<Map<string, number>> {
    const missing = tokens.filter((t) => !this.appIds.has(t));
    if (missing.length > 0) {
      const [rows] = await this.pool.query<RowDataPacket[]>("SELECT id, token FROM applications WHERE token IN (?)", [missing]);
      for (const row of rows) this.appIds.set(String(row.token), Number(row.id));
    }
    const result = new Map<string, number>();
    for (const t of tokens) {
      const id = this.appIds.get(t);
      if (id !== undefined) result.set(t, id);
    }
    return result;
  }
}

/** Chat ids learnt from the database: immutable once a row exists, so keeping them is safe. Bounded. */
class ChatIds {
  private readonly ids = new Map<string, number>(); // `${appId}:${number}` → id
  constructor(private readonly max: number) {}
  get(appId: number, number: number): number | undefined {
    return this.ids.get(`${appId}:${number}`);
  }
  /** Only rows that are committed: an id from a rolled-back insert names nothing. */
  remember(learnt: Map<string, number>): void {
    for (const [key, id] of learnt) {
      this.ids.set(key, id);
      if (this.ids.size > this.max) this.ids.delete(this.ids.keys().next().value as string);
    }
  }
}

/**
 * One worker batch inside one transaction, in as few statements as the batch
 * allows: per table one multi-row INSERT IGNORE for new rows (a redelivery
 * inserts nothing, so counts grow only by rows really inserted), one upsert
 * for edits and renames (last writer wins by updated_at), one UPDATE per
 * table for the counts. Chat ids come from memory where known.
 */
class WriteBatch {
  /** Chat ids resolved or inserted by this batch, kept only once it commits. */
  readonly learnt = new Map<string, number>();
  private readonly chatsInserted = new Map<number, number>(); // appId → n
  private readonly messagesInserted = new Map<number, number>(); // chatId → n
  /** Chats whose count cannot be taken from this batch's rows (some were already there): recounted. */
  private readonly recount = new Set<number>();

  constructor(
    private readonly conn: PoolConnection,
    private readonly appIds: Map<string, number>,
    private readonly known: ChatIds,
  ) {}

  async apply(events: WriteEvent[]): Promise<void> {
    const chats = events.flatMap((e) => (e.kind === "chat" ? [e] : []));
    const messages = events.flatMap((e) => (e.kind === "message" ? [e] : []));
    const deletions = events.flatMap((e) => (e.kind === "message_deleted" ? [e.message] : []));
    const markers = events.flatMap((e) => (e.kind === "read_marker" ? [e.marker] : []));
    if (chats.length > 0) await this.writeChats(chats);
    if (messages.length > 0) await this.writeMessages(messages);
    if (markers.length > 0) await this.writeReadMarkers(markers);
    // Chats first, so a placeholder a deletion needs is counted; the rows after
    // the counts, so a message created and deleted in one batch nets to zero.
    if (deletions.length > 0) await this.resolveChats(deletions);
    await this.updateCounts();
    if (deletions.length > 0) await this.writeDeletions(deletions);
  }

  private async writeChats(events: Extract<WriteEvent, { kind: "chat" }>[]): Promise<void> {
    const rows = events.map(({ chat: c }) => [this.appId(c.app), c.number, c.name, d(c.createdAt), d(c.updatedAt)]);
    const inserted = await this.insertChats(rows);
    // Any event may be the first to reach MySQL (a rename can overtake its
    // create across publishers, a message's placeholder its chat); when every
    // row was new there is nothing to reconcile.
    if (inserted === rows.length && events.every((e) => e.created)) return;
    await this.conn.query(
      `INSERT INTO chats (application_id, number, name, created_at, updated_at) VALUES ?
       ON DUPLICATE KEY UPDATE
         name = IF(VALUES(updated_at) >= updated_at, VALUES(name), name),
         created_at = LEAST(created_at, VALUES(created_at)),
         updated_at = GREATEST(updated_at, VALUES(updated_at))`,
      [rows],
    );
  }

  /** INSERT IGNORE per application, so each application's count is exact; returns the rows inserted. */
  private async insertChats(rows: unknown[][]): Promise<number> {
    let inserted = 0;
    for (const [appId, appRows] of groupBy(rows, (r) => r[0] as number)) {
      const [result] = await this.conn.query<ResultSetHeader>("INSERT IGNORE INTO chats (application_id, number, name, created_at, updated_at) VALUES ?", [appRows]);
      add(this.chatsInserted, appId, result.affectedRows);
      inserted += result.affectedRows;
    }
    return inserted;
  }

  private async writeMessages(events: Extract<WriteEvent, { kind: "message" }>[]): Promise<void> {
    const messages = events.map((e) => e.message);
    await this.resolveChats(messages);
    // Every message row not yet in MySQL is inserted once, whichever event came
    // first (an edit can overtake its create); one statement for the batch.
    const distinct = [...new Map(messages.map((m) => [`${this.chatId(m)}:${m.number}`, m])).values()];
    const [result] = await this.conn.query<ResultSetHeader>("INSERT IGNORE INTO messages (chat_id, number, body, created_at, updated_at, sender_id, sender_name) VALUES ?", [
      distinct.map((m) => [this.chatId(m), m.number, m.body, d(m.createdAt), d(m.updatedAt), ...senderColumns(m)]),
    ]);
    // All new (the usual case): the counts are this batch's rows per chat. Some
    // already there (a redelivery): which ones is unknown, so those chats are recounted.
    const perChat = new Map<number, number>();
    for (const m of distinct) add(perChat, this.chatId(m), 1);
    if (result.affectedRows === distinct.length) for (const [chatId, n] of perChat) add(this.messagesInserted, chatId, n);
    else for (const chatId of perChat.keys()) this.recount.add(chatId);
    const edits = events.filter((e) => !e.created).map((e) => e.message);
    if (edits.length > 0) {
      await this.conn.query(
        `INSERT INTO messages (chat_id, number, body, created_at, updated_at, sender_id, sender_name) VALUES ?
         ON DUPLICATE KEY UPDATE
           body = IF(VALUES(updated_at) >= updated_at AND deleted_at IS NULL, VALUES(body), body),
           updated_at = IF(deleted_at IS NULL, GREATEST(updated_at, VALUES(updated_at)), updated_at)`,
        [edits.map((m) => [this.chatId(m), m.number, m.body, d(m.createdAt), d(m.updatedAt), ...senderColumns(m)])],
      );
    }
  }

  /** Upserts keeping the greater number, so markers applied in any order, or again, end at the highest. */
  private async writeReadMarkers(markers: ReadMarker[]): Promise<void> {
    await this.resolveChats(markers.map((m) => ({ app: m.app, chat: m.chat, createdAt: m.updatedAt })));
    await this.conn.query(
      `INSERT INTO read_markers (chat_id, user_id, number, updated_at) VALUES ?
       ON DUPLICATE KEY UPDATE
         updated_at = IF(VALUES(number) > number, VALUES(updated_at), updated_at),
         number = GREATEST(number, VALUES(number))`,
      [markers.map((m) => [this.chatId(m), m.user, m.number, d(m.updatedAt)])],
    );
  }

  /**
   * A live row becomes a tombstone (and its chat counts one fewer); a
   * deletion that overtook its message inserts the tombstone, which the
   * message's own insert then leaves alone. A deletion is final: nothing
   * above clears deleted_at or refills the body.
   */
  private async writeDeletions(tombstones: Message[]): Promise<void> {
    const removed = new Map<number, number>();
    for (const t of tombstones) {
      const [result] = await this.conn.query<ResultSetHeader>(
        `UPDATE messages SET body = '', sender_id = NULL, sender_name = NULL, deleted_at = ?, updated_at = GREATEST(updated_at, ?)
         WHERE chat_id = ? AND number = ? AND deleted_at IS NULL`,
        [d(t.updatedAt), d(t.updatedAt), this.chatId(t), t.number],
      );
      add(removed, this.chatId(t), result.affectedRows);
    }
    await this.conn.query("INSERT IGNORE INTO messages (chat_id, number, body, created_at, updated_at, deleted_at) VALUES ?", [
      tombstones.map((t) => [this.chatId(t), t.number, "", d(t.createdAt), d(t.updatedAt), d(t.updatedAt)]),
    ]);
    const entries = [...removed].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
    if (entries.length === 0) return;
    const cases = entries.map(() => "WHEN ? THEN ?").join(" ");
    await this.conn.query(`UPDATE chats SET messages_count = GREATEST(CAST(messages_count AS SIGNED) - CASE id ${cases} END, 0) WHERE id IN (?)`, [
      ...entries.flat(),
      entries.map(([id]) => id),
    ]);
  }

  /** Chat ids for the messages' chats: from memory, else one lookup; a chat whose own
   * event has not arrived yet gets a placeholder row (name null, updated_at at the
   * epoch) that its event will then overwrite. */
  private async resolveChats(messages: ChatOf[]): Promise<void> {
    const unknown = (): Map<number, number[]> => {
      const wanted = new Map<number, Set<number>>();
      for (const m of messages) {
        const appId = this.appId(m.app);
        if (this.lookup(appId, m.chat) !== undefined) continue;
        let chats = wanted.get(appId);
        if (!chats) wanted.set(appId, (chats = new Set()));
        chats.add(m.chat);
      }
      return new Map([...wanted].map(([appId, chats]) => [appId, [...chats]]));
    };
    const select = async (wanted: Map<number, number[]>): Promise<void> => {
      const clauses = [...wanted].map(() => "(application_id = ? AND number IN (?))");
      const [rows] = await this.conn.query<RowDataPacket[]>(`SELECT id, application_id, number FROM chats WHERE ${clauses.join(" OR ")}`, [...wanted].flat());
      for (const row of rows) this.learnt.set(`${row.application_id}:${row.number}`, Number(row.id));
    };
    let wanted = unknown();
    if (wanted.size === 0) return;
    await select(wanted);
    wanted = unknown();
    if (wanted.size === 0) return;
    const firstOf = new Map(messages.map((m) => [`${this.appId(m.app)}:${m.chat}`, m]));
    await this.insertChats([...wanted].flatMap(([appId, chats]) => chats.map((chat) => [appId, chat, null, d(firstOf.get(`${appId}:${chat}`)!.createdAt), d(0)])));
    await select(wanted);
  }

  /** Aggregated increments, in id order so concurrent workers lock alike; recounts where increments are unknown. */
  private async updateCounts(): Promise<void> {
    for (const [table, column, counts] of [
      ["applications", "chats_count", this.chatsInserted],
      ["chats", "messages_count", this.messagesInserted],
    ] as const) {
      const entries = [...counts].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
      if (entries.length === 0) continue;
      const cases = entries.map(() => "WHEN ? THEN ?").join(" ");
      await this.conn.query(`UPDATE ${table} SET ${column} = ${column} + CASE id ${cases} END WHERE id IN (?)`, [...entries.flat(), entries.map(([id]) => id)]);
    }
    if (this.recount.size > 0) {
      const ids = [...this.recount].sort((a, b) => a - b);
      await this.conn.query("UPDATE chats c SET c.messages_count = (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id AND m.deleted_at IS NULL) WHERE c.id IN (?)", [ids]);
    }
  }

  private lookup(appId: number, chat: number): number | undefined {
    return this.learnt.get(`${appId}:${chat}`) ?? this.known.get(appId, chat);
  }

  private appId(token: string): number {
    const id = this.appIds.get(token);
    if (id === undefined) throw new Error("application missing from batch resolution");
    return id;
  }

  private chatId(m: Pick<ChatOf, "app" | "chat">): number {
    const id = this.lookup(this.appId(m.app), m.chat);
    if (id === undefined) throw new Error("chat missing from batch resolution");
    return id;
  }
}

/** What a write needs of its chat's row: which chat, and a creation time for a placeholder. */
type ChatOf = Pick<Message, "app" | "chat" | "createdAt">;

function groupBy<T, K>(items: T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

function add<K>(map: Map<K, number>, key: K, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

const d = (ms: number): Date => new Date(ms);
const ms = (value: unknown): number => (value instanceof Date ? value.getTime() : new Date(String(value)).getTime());
/** LIMIT takes no placeholder in prepared statements; this keeps it a safe integer literal. */
const int = (n: number): number => Math.max(0, Math.trunc(n));

function toApplication(r: RowDataPacket): Application {
  return { token: String(r.token), name: String(r.name), chatsCount: Number(r.chats_count), createdAt: ms(r.created_at), updatedAt: ms(r.updated_at) };
}

function toChat(r: RowDataPacket): Chat {
  return {
    app: String(r.token),
    number: Number(r.number),
    name: r.name == null ? null : String(r.name),
    messagesCount: Number(r.messages_count),
    createdAt: ms(r.created_at),
    updatedAt: ms(r.updated_at),
  };
}

function toMessage(r: RowDataPacket): Message {
  const message: Message = {
    app: String(r.token),
    chat: Number(r.chat_number),
    number: Number(r.number),
    body: String(r.body),
    createdAt: ms(r.created_at),
    updatedAt: ms(r.updated_at),
  };
  if (r.deleted_at != null) return { ...message, body: "", deleted: true };
  if (r.sender_id != null) message.sender = { id: String(r.sender_id), name: r.sender_name == null ? null : String(r.sender_name) };
  return message;
}

/** sender_id, sender_name: NULL for an anonymous message. */
const senderColumns = (m: Message): [string | null, string | null] => [m.sender?.id ?? null, m.sender?.name ?? null];
