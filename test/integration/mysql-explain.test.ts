import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import mysql, { type Pool, type PoolConnection } from "mysql2/promise";
import { migrate } from "../../src/adapters/mysql/migrate.js";
import { MysqlStore } from "../../src/adapters/mysql/mysql-store.js";
import type { Message, WriteEvent } from "../../src/domain/types.js";
import { isolatedEnv } from "../support/env.js";
import { cleanupRun } from "../support/cleanup.js";

const sqlDir = fileURLToPath(new URL("../../sql", import.meta.url));

interface Captured {
  sql: string;
  params: unknown;
}

/** Records every statement sent through the pool and the connections it lends. */
function capture(pool: Pool, seen: Captured[]): void {
  const record = <F extends (...args: any[]) => any>(target: object, name: string): void => {
    const original = (target as Record<string, F>)[name]!.bind(target);
    (target as Record<string, unknown>)[name] = (sql: string, params?: unknown) => {
      seen.push({ sql, params });
      return original(sql, params);
    };
  };
  record(pool, "execute");
  record(pool, "query");
  const getConnection = pool.getConnection.bind(pool);
  pool.getConnection = async () => {
    const conn: PoolConnection = await getConnection();
    if (!(conn as unknown as { captured?: boolean }).captured) {
      record(conn, "query");
      record(conn, "execute");
      (conn as unknown as { captured?: boolean }).captured = true;
    }
    return conn;
  };
}

describe("every statement a request or the worker runs is served by an index (EXPLAIN)", () => {
  const env = isolatedEnv("explain");
  const url = new URL(env.MYSQL_URL!);
  let store: MysqlStore;
  let explainer: mysql.Connection;
  const seen: Captured[] = [];
  const apps = Array.from({ length: 300 }, (_, i) => `explain-app-${String(i).padStart(10, "0")}`);

  before(async () => {
    await migrate(url, sqlDir);
    store = new MysqlStore(url);
    explainer = await mysql.createConnection(url.toString());
    // Enough rows that a full scan would be visibly worse than the index.
    const now = Date.now();
    for (const token of apps) await store.insertApplication({ token, name: token, chatsCount: 0, createdAt: now, updatedAt: now });
    const events: WriteEvent[] = [];
    for (const app of apps.slice(0, 50)) {
      for (let chat = 1; chat <= 10; chat++) {
        events.push({ kind: "chat", created: true, chat: { app, number: chat, name: null, messagesCount: 0, createdAt: now, updatedAt: now } });
        for (let number = 1; number <= 20; number++) {
          events.push({ kind: "message", created: true, message: { app, chat, number, body: `m ${number}`, createdAt: now, updatedAt: now } });
        }
      }
    }
    await store.applyWrites(events);
    await explainer.query("ANALYZE TABLE applications, chats, messages");
  });

  after(async () => {
    await store?.close();
    await explainer?.end();
    await cleanupRun(env).catch(() => undefined);
  });

  it("uses an index for each SELECT and UPDATE", async () => {
    capture(store.pool, seen);
    const app = apps[7]!;
    const now = Date.now();
    const edit: Message = { app, chat: 3, number: 5, body: "edited", createdAt: now, updatedAt: now + 1 };
    // Every store operation the API, the worker and the reconciler perform.
    await store.findApplication(app);
    await store.renameApplication(app, "renamed", now);
    await store.listApplications(apps[3]!, 10);
    await store.findChat(app, 3);
    await store.listChats(app, 2, 5);
    await store.findMessage(app, 3, 5);
    await store.listMessages(app, 3, { direction: "newest" }, 5);
    await store.listMessages(app, 3, { direction: "after", number: 4 }, 5);
    await store.listMessages(app, 3, { direction: "before", number: 9 }, 5);
    await store.maxChatNumber(app);
    await store.maxMessageNumber(app, 3);
    await store.scanMessages({ app, chat: 3, number: 4 }, 10);
    await store.applyWrites([
      { kind: "chat", created: true, chat: { app, number: 11, name: "new", messagesCount: 0, createdAt: now, updatedAt: now } },
      { kind: "chat", created: false, chat: { app, number: 2, name: "renamed", messagesCount: 0, createdAt: now, updatedAt: now + 1 } },
      { kind: "message", created: true, message: { app, chat: 11, number: 1, body: "first", createdAt: now, updatedAt: now } },
      { kind: "message", created: true, message: { app, chat: 12, number: 1, body: "chat event not here yet", createdAt: now, updatedAt: now } },
      { kind: "message", created: true, message: { app, chat: 3, number: 21, body: "more", createdAt: now, updatedAt: now } },
      { kind: "message", created: false, message: edit },
    ]);
    // Identity, deletes and read markers (docs/DESIGN.md "Users and access" …).
    await store.insertAccess(app, { secret: "s".repeat(43), previousSecret: null, previousSecretUntil: null, userTokensRequired: false });
    await store.findAccess(app);
    await store.rotateSecret(app, "s".repeat(43), "t".repeat(43), now + 600_000);
    await store.setUserTokensRequired(app, true);
    await store.issueMissingSecret(apps[8]!, "u".repeat(43));
    await store.applyWrites([
      { kind: "message_deleted", message: { app, chat: 3, number: 6, body: "", createdAt: now, updatedAt: now + 2, deleted: true } },
      { kind: "message_deleted", message: { app, chat: 4, number: 99, body: "", createdAt: now, updatedAt: now + 2, deleted: true } },
      { kind: "read_marker", marker: { app, chat: 3, user: "alice", number: 4, updatedAt: now } },
    ]);
    await store.countMessages(app, 3, 2, 12);
    await store.findReadMarker(app, 3, "alice");
    await store.reconcileCounts(null, 100);
    await store.reconcileCounts("a:0", 100);
    await store.findMessage(app, 3, 5).then((m) => assert.equal(m?.body, "edited"));

    const statements = seen.filter(({ sql }) => /^\s*(SELECT|UPDATE)\b/i.test(sql) && !/^\s*SELECT 1\b/.test(sql));
    assert.ok(statements.length >= 15, `captured ${statements.length} statements`);
    const problems: string[] = [];
    for (const { sql, params } of statements) {
      const [plan] = await explainer.query<mysql.RowDataPacket[]>(`EXPLAIN ${sql}`, params as unknown[]);
      for (const row of plan) {
        if (row.table === null || /^<(derived|subquery)/.test(String(row.table))) continue;
        if (row.type === "ALL" || row.key === null) {
          problems.push(`${sql.replace(/\s+/g, " ").slice(0, 160)} → table ${row.table} type ${row.type} key ${row.key}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });
});
