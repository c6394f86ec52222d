import { pino } from "pino";
import type { Backends } from "../../src/compose/backends.js";
import { embeddedBackends } from "../../src/compose/embedded.js";
import type { Config } from "../../src/config.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { startWorker, type RunningWorker } from "../../src/worker/run-worker.js";
import { TcpProxy } from "./tcp-proxy.js";

const silent = pino({ level: "silent" });

/**
 * A server that can restart, reached through a proxy on a fixed port as
 * clients reach a deployment: a listen port cannot be bound again while the
 * old process's connections sit in TIME_WAIT.
 */
export class Restartable {
  server!: RunningServer;
  private worker!: RunningWorker;
  private readonly backends: Backends;
  private readonly proxy = new TcpProxy("127.0.0.1", 0);

  constructor(private readonly config: Config) {
    this.backends = embeddedBackends(config);
  }

  get base(): string {
    return `http://127.0.0.1:${this.proxy.port}`;
  }

  async start(): Promise<void> {
    this.worker ??= await startWorker(this.config, this.backends, silent);
    this.server = await startServer(this.config, this.backends, silent);
    this.proxy.retarget(this.server.port);
    if (this.proxy.port === 0) await this.proxy.start();
  }

  async stop(): Promise<void> {
    await this.server.close();
  }

  async close(): Promise<void> {
    await this.server.close();
    await this.proxy.cut();
    await this.worker.close();
    await this.backends.close();
  }
}
