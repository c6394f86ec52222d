import { execFile, spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { promisify } from "node:util";
import type { Redis } from "ioredis";

// Faults injected into the real shared services (not through a proxy): a
// broker stopped, a server frozen, a Redis connection killed. Every fault that
// leaves a shared service broken also arms a dead-man switch, a detached shell
// that undoes it on its own if this test process dies before it could.

const run = promisify(execFile);

/** Pids matching `pgrep args`; none is an empty list, not an error. */
export async function pgrep(args: string[]): Promise<number[]> {
  try {
    const { stdout } = await run("pgrep", args);
    return stdout.split("\n").filter(Boolean).map(Number);
  } catch (err) {
    if ((err as { code?: number }).code === 1) return [];
    throw err;
  }
}

function single(pids: number[], what: string): number {
  if (pids.length !== 1) throw new Error(`expected one ${what} process, found ${pids.length}: ${pids.join(", ")}`);
  return pids[0]!;
}

export async function mariadbPid(): Promise<number> {
  return single(await pgrep(["-x", "mariadbd"]), "mariadbd");
}

/** RabbitMQ's Erlang VM. */
export async function rabbitmqPid(): Promise<number> {
  return single(await pgrep(["-x", "beam.smp"]), "beam.smp");
}

/** The Elasticsearch JVM (only java processes: a shell that merely mentions the class name is not it). */
export async function elasticsearchPid(): Promise<number> {
  const pids = (await pgrep(["-f", "org.elasticsearch"])).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "java";
    } catch {
      return false;
    }
  });
  return single(pids, "Elasticsearch java");
}

/** The state letter of /proc/<pid>/stat: R, S, D, T (stopped) … */
export function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

/** A detached `sh -c "sleep N; <undo>"`: undoes a fault if this process dies first. Disarm when undone normally. */
class DeadManSwitch {
  private readonly pid: number;

  constructor(afterMs: number, undo: string) {
    const child = spawn("sh", ["-c", `sleep ${Math.ceil(afterMs / 1000)}; ${undo}`], { detached: true, stdio: "ignore" });
    child.unref();
    this.pid = child.pid!;
  }

  disarm(): void {
    try {
      process.kill(-this.pid, "SIGTERM"); // its own process group: the shell and its sleep
    } catch {
      // already fired and gone
    }
  }
}

/** A process frozen with SIGSTOP until `thaw` (SIGCONT); thawed by a dead-man switch after `deadManMs` regardless. */
export class Frozen {
  private thawed = false;
  private readonly deadMan: DeadManSwitch;

  private constructor(readonly pid: number, deadManMs: number) {
    this.deadMan = new DeadManSwitch(deadManMs, `kill -CONT ${pid}`);
    process.kill(pid, "SIGSTOP");
  }

  /** Freezes `pid` and resolves once the kernel reports it stopped. */
  static async freeze(pid: number, deadManMs: number): Promise<Frozen> {
    const frozen = new Frozen(pid, deadManMs);
    try {
      for (let i = 0; processState(pid) !== "T"; i++) {
        if (i > 200) throw new Error(`process ${pid} did not stop (state ${processState(pid)})`);
        await new Promise((r) => setTimeout(r, 5));
      }
    } catch (err) {
      frozen.thaw();
      throw err;
    }
    return frozen;
  }

  /** Idempotent. */
  thaw(): void {
    if (this.thawed) return;
    this.thawed = true;
    process.kill(this.pid, "SIGCONT");
    this.deadMan.disarm();
  }
}

/** RabbitMQ's application stopped with `rabbitmqctl stop_app` until `start` (start_app); started by a dead-man switch regardless. */
export class RabbitStopped {
  private started: Promise<void> | null = null;

  private constructor(private readonly deadMan: DeadManSwitch) {}

  static async stop(deadManMs: number): Promise<RabbitStopped> {
    const stopped = new RabbitStopped(new DeadManSwitch(deadManMs, "rabbitmqctl start_app"));
    try {
      await run("rabbitmqctl", ["stop_app"], { timeout: 60_000 });
    } catch (err) {
      await stopped.start().catch(() => undefined); // it may have stopped halfway
      throw err;
    }
    return stopped;
  }

  /** Idempotent; resolves once the broker application runs again. */
  start(): Promise<void> {
    this.started ??= run("rabbitmqctl", ["start_app"], { timeout: 120_000 }).then(() => this.deadMan.disarm());
    return this.started;
  }
}

/**
 * Local ports of the TCP connections that process `pid` holds to `remotePort`,
 * read from /proc: the sockets among its file descriptors, looked up in its
 * network namespace's tcp tables.
 */
export function tcpLocalPorts(pid: number, remotePort: number): Set<number> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ["tcp", "tcp6"]) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!)) continue;
      const local = Number.parseInt(f[1]!.split(":")[1]!, 16);
      const remote = Number.parseInt(f[2]!.split(":")[1]!, 16);
      if (remote === remotePort) ports.add(local);
    }
  }
  return ports;
}

export interface RedisClientInfo {
  id: string;
  port: number;
  /** Channels it subscribes to (classic and sharded). */
  sub: number;
}

/** The pub/sub connections that process `pid` holds to this Redis (CLIENT LIST matched to its sockets). */
export async function pubsubClientsOf(redis: Redis, pid: number, redisPort: number): Promise<RedisClientInfo[]> {
  const list = (await redis.call("CLIENT", "LIST", "TYPE", "pubsub")) as string;
  const ports = tcpLocalPorts(pid, redisPort);
  const clients: RedisClientInfo[] = [];
  for (const line of list.split("\n")) {
    const fields = new Map(line.trim().split(" ").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as const));
    const addr = fields.get("addr");
    if (!addr) continue;
    const port = Number(addr.slice(addr.lastIndexOf(":") + 1));
    if (ports.has(port)) clients.push({ id: fields.get("id")!, port, sub: Number(fields.get("sub")) + Number(fields.get("ssub") ?? 0) });
  }
  return clients;
}

/** Kills exactly the pub/sub connections of process `pid` (by client id); returns how many. */
export async function killPubsubClientsOf(redis: Redis, pid: number, redisPort: number): Promise<RedisClientInfo[]> {
  const clients = await pubsubClientsOf(redis, pid, redisPort);
  for (const c of clients) await redis.call("CLIENT", "KILL", "ID", c.id);
  return clients;
}
