import { cleanupRun } from "../support/cleanup.js";
import { isolatedEnv } from "../support/env.js";
import { runCli, spawnCli } from "../support/processes.js";
import { restAcceptance } from "../support/rest-acceptance.js";

// Cluster mode: one real `all` process against MariaDB, Redis, RabbitMQ and Elasticsearch.
restAcceptance("cluster", async () => {
  const adminKey = "test-admin-key-0123456789";
  const env = isolatedEnv("rest", { ADMIN_KEY: adminKey, RECONCILE_INTERVAL_MS: "1000" });
  const migrated = await runCli(["migrate"], env);
  if (migrated.code !== 0) throw new Error(migrated.output);
  const proc = await spawnCli("all", env, /worker started/);
  return {
    base: `http://127.0.0.1:${proc.port}`,
    adminKey,
    output: () => proc.output(),
    async stop() {
      await proc.stop();
      await cleanupRun(env);
    },
  };
});
