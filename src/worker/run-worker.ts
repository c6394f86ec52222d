import { hostname } from "node:os";
import type { Backends } from "../compose/backends.js";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { WorkerMetrics } from "../metrics/worker-metrics.js";
import { IndexWorker } from "./index-worker.js";
import { listenMetrics } from "./metrics-listener.js";
import { CountReconciler } from "./reconciler.js";
import { WriteWorker } from "./write-worker.js";

export interface RunningWorker {
  close(): Promise<void>;
}

/** The worker role: persistence, indexing and count reconciliation. */
export async function startWorker(config: Config, backends: Backends, log: Logger): Promise<RunningWorker> {
  const metrics = new WorkerMetrics();
  const writes = new WriteWorker(backends.writeConsumer(), backends.store, backends.heartbeats, `${hostname()}-${process.pid}`, log, metrics);
  const index = new IndexWorker(backends.indexConsumer(), backends.search);
  const reconciler = new CountReconciler(backends.store, backends.lock, config.reconcileIntervalMs, log);
  await writes.start();
  await index.start();
  reconciler.start();
  const listener = config.workerMetricsPort === null ? null : await listenMetrics(metrics.registry, config.host, config.workerMetricsPort, config.metricsKey);
  if (listener) log.info({ metricsPort: listener.port }, "worker metrics listening");
  return {
    async close() {
      await listener?.close();
      await reconciler.close();
      await Promise.all([writes.close(), index.close()]);
    },
  };
}
