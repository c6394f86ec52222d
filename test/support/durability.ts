import type mysql from "mysql2/promise";
import type { CreateResult } from "./create-load.js";
import { eventually } from "./env.js";

// What a create load's client saw against what MySQL holds: the checks every
// fault test makes once its load stopped.

interface Row {
  chat: number;
  number: number;
  body: string;
}

/**
 * Problems (empty when none): a number acknowledged twice in a chat; an
 * acknowledged message missing from MySQL or stored with another body under
 * its number (what a reused number dropped by INSERT IGNORE looks like); a
 * create of this load stored twice. Waits up to `timeoutMs` for every
 * acknowledged message to be persisted.
 */
export async function durabilityProblems(db: mysql.Connection, token: string, label: string, results: CreateResult[], timeoutMs = 60_000): Promise<string[]> {
  const problems: string[] = [];
  const acked = results.filter((r) => r.status === 201 && r.number !== undefined);
  const byNumber = new Map<string, string>();
  const twiceAcked: string[] = [];
  for (const r of acked) {
    const key = `${r.chat}:${r.number}`;
    if (byNumber.has(key)) twiceAcked.push(`chat ${r.chat} #${r.number} for "${byNumber.get(key)}" and "${r.body}"`);
    byNumber.set(key, r.body);
  }
  if (twiceAcked.length) problems.push(`${twiceAcked.length} numbers acknowledged twice: ${twiceAcked.slice(0, 5).join("; ")}`);
  let rows: Row[] = [];
  const read = async (): Promise<Row[]> => {
    const [found] = await db.query<mysql.RowDataPacket[]>(
      `SELECT c.number AS chat, m.number, m.body FROM messages m JOIN chats c ON c.id = m.chat_id JOIN applications a ON a.id = c.application_id
       WHERE a.token = ? AND m.body LIKE ?`,
      [token, `${label} %`],
    );
    return found.map((r) => ({ chat: Number(r.chat), number: Number(r.number), body: String(r.body) }));
  };
  await eventually(async () => {
    rows = await read();
    const stored = new Set(rows.map((r) => `${r.chat}:${r.number}:${r.body}`));
    return acked.every((r) => stored.has(`${r.chat}:${r.number}:${r.body}`));
  }, timeoutMs, "every acknowledged message in MySQL").catch(() => undefined);
  const stored = new Map(rows.map((r) => [`${r.chat}:${r.number}`, r.body]));
  const missing = acked.filter((r) => stored.get(`${r.chat}:${r.number}`) !== r.body);
  if (missing.length) {
    problems.push(
      `${missing.length} acknowledged messages not in MySQL under their number: ${JSON.stringify(missing.slice(0, 5).map((r) => [r.chat, r.number, r.body, stored.get(`${r.chat}:${r.number}`) ?? null]))}`,
    );
  }
  const bodies = new Map<string, number>();
  for (const r of rows) bodies.set(r.body, (bodies.get(r.body) ?? 0) + 1);
  const twice = [...bodies].filter(([, n]) => n > 1);
  if (twice.length) problems.push(`${twice.length} creates stored more than once: ${JSON.stringify(twice.slice(0, 5))}`);
  return problems;
}

/** The outage a fault caused, as the client saw it, from `faultAt` (performance.now()) on. */
export interface Outage {
  /** Sent from the first to the last failed create after the fault. */
  unavailableMs: number;
  /** Fault → the answer to the first create sent after the last failure that was acknowledged. */
  backAfterMs: number | null;
  failed: number;
}

export function outage(results: CreateResult[], faultAt: number, chats?: number[]): Outage {
  const mine = results.filter((r) => r.sentAt >= faultAt && (!chats || chats.includes(r.chat)));
  const failed = mine.filter((r) => r.status !== 201);
  const last = failed.length ? Math.max(...failed.map((r) => r.sentAt)) : faultAt;
  const back = mine.filter((r) => r.status === 201 && r.sentAt > last).sort((a, b) => a.doneAt - b.doneAt)[0];
  return {
    unavailableMs: failed.length ? last - Math.min(...failed.map((r) => r.sentAt)) : 0,
    backAfterMs: back ? back.doneAt - faultAt : null,
    failed: failed.length,
  };
}
