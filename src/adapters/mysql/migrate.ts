import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import mysql from "mysql2/promise";

/**
 * Applies `sql/NNN_name.sql` files in order, once each, recorded in
 * schema_migrations. Idempotent, and safe when several processes run it at
 * once (a named lock serializes them). Creates the database if missing.
 */
export async function migrate(url: URL, sqlDir: string): Promise<string[]> {
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!/^[A-Za-z0-9_]{1,64}$/.test(database)) throw new Error("MYSQL_URL must name a database (letters, digits, _)");
  const server = new URL(url);
  server.pathname = "/";
  const admin = await mysql.createConnection({ uri: server.toString(), multipleStatements: false });
  try {
    await admin.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await admin.end();
  }
  const conn = await mysql.createConnection({ uri: url.toString(), multipleStatements: true });
  try {
    await conn.query("SELECT GET_LOCK('chat_migrate', 60)");
    await conn.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at DATETIME(3) NOT NULL)",
    );
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT version FROM schema_migrations");
    const done = new Set(rows.map((r) => Number(r.version)));
    const files = (await readdir(sqlDir)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
    const applied: string[] = [];
    for (const file of files) {
      const version = Number(file.slice(0, 3));
      if (done.has(version)) continue;
      await conn.query(await readFile(join(sqlDir, file), "utf8"));
      await conn.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, UTC_TIMESTAMP(3))", [version, file]);
      applied.push(file);
    }
    await conn.query("SELECT RELEASE_LOCK('chat_migrate')");
    return applied;
  } finally {
    await conn.end();
  }
}
