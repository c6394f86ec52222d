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
 * background), so a sweep asks once per application, and allocates nothing
 * per subscription unless an application was closed.
 */
export async function sweepAnonymousSubscriptions(
  connections: Iterable<Connection>,
  closed: (app: string) => Promise<boolean>,
  revoke: (conn: Connection, sub: Subscription) => void,
): Promise<void> {
  const apps = new Set<string>();
  for (const conn of connections) for (const sub of conn.subs.values()) if (!actsFor(conn, sub)) apps.add(sub.app);
  const closedApps = new Set<string>();
  await Promise.all(
    [...apps].map(async (app) => {
      // A store that cannot answer leaves subscriptions as they are; the next sweep asks again.
      if (await closed(app).catch(() => false)) closedApps.add(app);
    }),
  );
  if (closedApps.size === 0) return;
  // Walked again, as they are now: a socket may have authenticated or unsubscribed meanwhile.
  for (const conn of connections) for (const sub of [...conn.subs.values()]) if (closedApps.has(sub.app) && !actsFor(conn, sub)) revoke(conn, sub);
}

const actsFor = (conn: Connection, sub: Subscription): boolean => conn.identity?.app === sub.app;
