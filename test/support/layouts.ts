import { isolatedEnv, services } from "./env.js";
import { NetnsHosts } from "./netns.js";
import { runCli, spawnCli, type Proc } from "./processes.js";

// Where the multi-process tests run their API processes, and on which Redis:
// on loopback against one Redis server (the default deployment), on loopback
// against the local Redis Cluster, and on three network hosts (namespaces on
// a bridge, test/support/netns.ts) against the cluster. The tests run
// unchanged in each; the worker and the test itself stay on this machine.

/** A `serve` process and where to reach it. */
export interface Server extends Proc {
  /** http://host:port */
  origin: string;
  /** ws://host:port/ws */
  ws: string;
}

export interface Layout {
  name: string;
  /** An isolated env (test/support/env.ts) on this layout's Redis. */
  env(label: string, extra?: Record<string, string>): Record<string, string>;
  /** Migrates, then spawns `count` serve processes and one worker. */
  spawn(env: Record<string, string>, count: number): Promise<{ servers: Server[]; worker: Proc }>;
  /** What the layout's network adds to a round trip (null on loopback); after spawn. */
  latency(): Promise<string | null>;
  /** Removes what the layout set up (network namespaces); its processes must be stopped first. */
  close(): Promise<void>;
}

const clusterEnv = (label: string, extra: Record<string, string> = {}): Record<string, string> => ({
  ...isolatedEnv(label, extra),
  REDIS_URL: "",
  REDIS_CLUSTER_NODES: services.redisCluster,
});

const port = (url: string, fallback: number): number => Number(new URL(url).port || fallback);

async function migrated(env: Record<string, string>): Promise<void> {
  const result = await runCli(["migrate"], env);
  if (result.code !== 0) throw new Error(`migrate failed:\n${result.output}`);
}

function server(proc: Proc, host: string): Server {
  return Object.assign(proc, { origin: `http://${host}:${proc.port}`, ws: `ws://${host}:${proc.port}/ws` });
}

function loopback(name: string, env: Layout["env"]): Layout {
  return {
    name,
    env,
    async spawn(runEnv, count) {
      await migrated(runEnv);
      const servers = await Promise.all(Array.from({ length: count }, async () => server(await spawnCli("serve", runEnv), "127.0.0.1")));
      return { servers, worker: await spawnCli("worker", runEnv) };
    },
    latency: async () => null,
    async close() {},
  };
}

/** API processes on their own network hosts; every service (and the worker) on this machine, reached through the bridge. */
function networkHosts(): Layout {
  let hosts: NetnsHosts | null = null;
  const mysqlPort = port(services.mysql, 3306);
  const amqpPort = port(services.amqp, 5672);
  const esPort = port(services.elasticsearch, 9200);
  const redisPorts = [7000, 7001, 7002, 7003, 7004, 7005];
  return {
    name: "three network hosts, Redis Cluster",
    env: clusterEnv,
    async spawn(runEnv, count) {
      await migrated(runEnv);
      hosts ??= await NetnsHosts.create(count, [mysqlPort, amqpPort, esPort], redisPorts);
      const at = hosts;
      const viaGateway = (url: string): string => {
        const u = new URL(url);
        u.hostname = at.gateway;
        return u.toString().replace(/\/$/, "");
      };
      const servers = await Promise.all(
        at.hosts.slice(0, count).map(async (host, i) => {
          const hostEnv = {
            ...runEnv,
            HOST: host.address,
            MYSQL_URL: viaGateway(runEnv.MYSQL_URL!),
            AMQP_URL: viaGateway(runEnv.AMQP_URL!),
            ELASTICSEARCH_URL: viaGateway(runEnv.ELASTICSEARCH_URL!),
          };
          return server(await spawnCli("serve", hostEnv, undefined, at.exec(i)), host.address);
        }),
      );
      return { servers, worker: await spawnCli("worker", runEnv) };
    },
    latency: async () => (hosts ? hosts.hopLatency(redisPorts[0]!) : null),
    async close() {
      await hosts?.close();
      hosts = null;
    },
  };
}

/** Every layout the multi-process acceptance tests run in. */
export const layouts = (): Layout[] => [
  loopback("loopback, one Redis", (label, extra) => isolatedEnv(label, extra)),
  loopback("loopback, Redis Cluster", clusterEnv),
  networkHosts(),
];
