import { channelOf } from "../../domain/live-batch.js";
import type { Connection } from "./connection.js";
import type { Subscription } from "./subscription.js";

/** How often live subscriptions are checked against their application's access rule. */
export const ACCESS_SWEEP_MS = 1000;

/**
 * Closing an application (user tokens required) applies to subscriptions
 * already made, not only to later ops: each sweep asks the rule of every
 * application this process holds subscriptions to without one of its users
 * (anonymous sockets, or sockets acting for another application), and hands
 * those of a closed one to `revoke`. `closed` answers from what the process
 * last read of the application (AccessControl renews it every ~2 s in the
 * background), so a sweep reads the store at most once per application.
 */
export async function sweepAnonymousSubscriptions(
  connections: Iterable<Connection>,
  closed: (app: string) => Promise<boolean>,
  revoke: (conn: Connection, sub: Subscription) => void,
): Promise<void> {
  const anonymous = new Map<string, { conn: Connection; sub: Subscription }[]>();
  for (const conn of connections) {
    for (const sub of conn.subs.values()) {
      if (conn.identity?.app === sub.app) continue;
      const held = anonymous.get(sub.app);
      if (held) held.push({ conn, sub });
      else anonymous.set(sub.app, [{ conn, sub }]);
    }
  }
  await Promise.all(
    [...anonymous].map(async ([app, held]) => {
      // A store that cannot answer leaves subscriptions as they are; the next sweep asks again.
      if (!(await closed(app).catch(() => false))) return;
      // Re-checked: the socket may have authenticated meanwhile.
      for (const { conn, sub } of held) if (conn.identity?.app !== app && conn.subs.get(channelOf(app, sub.chat)) === sub) revoke(conn, sub);
    }),
  );
}
