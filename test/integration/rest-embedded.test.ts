import { spawnCli } from "../support/processes.js";
import { restAcceptance } from "../support/rest-acceptance.js";

// Embedded mode: `serve` with no service URLs, exactly what `npm start` runs.
restAcceptance("embedded", async () => {
  const env = { PORT: "0", HOST: "127.0.0.1", MYSQL_URL: "", REDIS_URL: "", AMQP_URL: "", ELASTICSEARCH_URL: "", RECONCILE_INTERVAL_MS: "200" };
  const proc = await spawnCli("serve", env);
  return { base: `http://127.0.0.1:${proc.port}`, adminKey: null, output: () => proc.output(), stop: () => proc.stop() };
});
