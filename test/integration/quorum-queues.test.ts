import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { cleanupRun } from "../support/cleanup.js";
import { CreateLoad } from "../support/create-load.js";
import { durabilityProblems, outage } from "../support/durability.js";
import { layouts } from "../support/layouts.js";
import { startLoadStack, type LoadStack } from "../support/load-stack.js";
import { spawnCli } from "../support/processes.js";
import { RabbitStopped } from "../support/service-faults.js";

// Quorum queues (AMQP_QUEUE_TYPE=quorum): every queue the deployment declares
// is one, dead-letter queues included, and under a steady create load a
// kill -9 of the worker and a stop/start of the broker (rabbitmqctl
// stop_app/start_app, shared with other runs) lose no acknowledged message
// and store none twice. (The queue contract runs on quorum queues too, in
// test/contract/cluster.test.ts.)

const run = promisify(execFile);
const RATE = 200;
const CHATS = [1, 2];

describe("quorum queues: AMQP_QUEUE_TYPE=quorum under faults (real RabbitMQ)", () => {
  const layout = layouts()[0]!;
  const env = layout.env("quorum", { AMQP_QUEUE_TYPE: "quorum", PUBLISH_TIMEOUT_MS: "1000" });
  let stack: LoadStack;

  before(async () => {
    stack = await startLoadStack(layout, env, 1, "quorum", CHATS);
  });

  after(async () => {
    await stack?.stop();
    await cleanupRun(env);
  });

  it("declares every queue, dead-letter queues included, as a quorum queue", async () => {
    const { stdout } = await run("rabbitmqctl", ["list_queues", "name", "type", "--formatter", "json"]);
    const types = new Map((JSON.parse(stdout) as { name: string; type: string }[]).map((q) => [q.name, q.type]));
    const name = env.QUEUE_NAME!;
    for (const queue of [name, `${name}.dead`, `${name}.index`, `${name}.index.dead`]) assert.equal(types.get(queue), "quorum", queue);
  });

  /** A load through the API, `fault` injected once it is acknowledged; then every acknowledged message must be in MySQL once. */
  async function underLoad(label: string, fault: (load: CreateLoad) => Promise<void>): Promise<void> {
    const load = new CreateLoad({ origin: stack.servers[0]!.origin, token: stack.token, chats: CHATS, rate: RATE, maxCreates: RATE * 120, maxMs: 120_000, label });
    let faultAt = 0;
    try {
      await load.until(() => load.ackedSince(0) >= RATE, 30_000, "the load to be acknowledged");
      faultAt = performance.now();
      await fault(load);
      const undoneAt = performance.now();
      await load.until(() => load.ackedSince(undoneAt) >= RATE, 60_000, "creates after the fault to be acknowledged");
    } finally {
      await load.stop();
    }
    const seen = outage(load.results, faultAt);
    console.log(`# quorum queues, ${label}: ${load.summary()}; unavailable ${Math.round(seen.unavailableMs)} ms`);
    assert.deepEqual(await durabilityProblems(stack.db, stack.token, label, load.results, 120_000), []);
  }

  it("loses no acknowledged message when the worker is killed with -9", () =>
    underLoad("worker-kill", async (load) => {
      const persisted = load.ackedSince(0);
      await load.until(() => load.ackedSince(0) >= persisted + RATE / 2, 30_000, "more acknowledged creates for the worker to hold");
      await stack.worker.stop("SIGKILL");
      stack.worker = await spawnCli("worker", env);
    }));

  it("loses no acknowledged message when RabbitMQ stops and starts", () =>
    underLoad("broker-restart", async (load) => {
      const stoppedAt = performance.now();
      const stopped = await RabbitStopped.stop(120_000);
      try {
        await load.until(() => load.failedSince(stoppedAt) >= 50, 60_000, "creates to fail while RabbitMQ is stopped");
      } finally {
        await stopped.start();
      }
    }));
});
