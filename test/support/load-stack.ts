import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { Api } from "./http.js";
import type { Layout, Server } from "./layouts.js";
import type { Proc } from "./processes.js";

/**
 * What a fault test runs its create load against: serve processes and a
 * worker in one layout, one application whose chats are numbered 1…n, and a
 * MySQL connection to check what was stored.
 */
export interface LoadStack {
  servers: Server[];
  /** Replaced by a test that kills the worker and starts another. */
  worker: Proc;
  token: string;
  db: mysql.Connection;
  /** Kills the processes, then removes the layout's setup and closes MySQL. */
  stop(): Promise<void>;
}

export async function startLoadStack(layout: Layout, env: Record<string, string>, apis: number, name: string, chats: readonly number[]): Promise<LoadStack> {
  const { servers, worker } = await layout.spawn(env, apis);
  let token: string;
  let db: mysql.Connection;
  try {
    const api = new Api(servers[0]!.origin);
    token = (await api.post("/api/v1/applications", { name })).json.token as string;
    for (const chat of chats) assert.equal((await api.postReady(`/api/v1/applications/${token}/chats`, {})).json.number, chat);
    db = await mysql.createConnection(env.MYSQL_URL!);
  } catch (err) {
    // No stack to stop later: leave nothing running.
    await Promise.all([...servers, worker].map((p) => p.stop("SIGKILL")));
    await layout.close();
    throw err;
  }
  const stack: LoadStack = {
    servers,
    worker,
    token,
    db,
    async stop() {
      await Promise.all([...this.servers, this.worker].map((p) => p.stop("SIGKILL")));
      await layout.close();
      await this.db.end();
    },
  };
  return stack;
}
