import { execFileSync, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { services } from "../../test/support/env.js";

// CPU time of every process a scenario involves, over a window, from
// /proc/<pid>/stat (utime + stime, all threads of the process) and the
// machine's total from /proc/stat, both in clock ticks (getconf CLK_TCK).
//
// The services (MariaDB, Redis, RabbitMQ, Elasticsearch) are shared with
// whatever else runs on this machine, so their figures include other runs'
// load; the machine total minus every process measured here ("unaccounted")
// shows how much else was going on: other processes, and kernel time spent in
// interrupts and softirqs (loopback networking) that no process is charged for.

export const COMPONENTS = ["api", "worker", "elasticsearch", "redis", "mariadb", "rabbitmq", "loadgen"] as const;
export type Component = (typeof COMPONENTS)[number];

export const COMPONENT_LABELS: Record<Component, string> = {
  api: "API",
  worker: "worker",
  elasticsearch: "Elasticsearch",
  redis: "Redis",
  mariadb: "MariaDB",
  rabbitmq: "RabbitMQ",
  loadgen: "load generator",
};

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
const usOf = (ticks: number): number => (ticks * 1e6) / CLK_TCK;

interface Stat {
  ppid: number;
  /** utime + stime of the process itself, and of its reaped children (cutime + cstime), ticks. */
  own: number;
  children: number;
  /** Start time since boot, ticks: tells a pid reused by a restarted service from the one measured. */
  startedAt: number;
}

function readStat(pid: number | "self"): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // Field 2 (comm) is in parentheses and may itself hold spaces or ')': count from the last ')'.
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // f[0] is field 3 (state), so field N is f[N - 3]: ppid 4, utime 14, stime 15, cutime 16, cstime 17, starttime 22.
  return { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]), startedAt: Number(f[19]) };
}

/** Live processes by parent pid, from one pass over /proc. */
function childrenByParent(): Map<number, number[]> {
  const kids = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) kids.set(stat.ppid, [...(kids.get(stat.ppid) ?? []), Number(name)]);
  }
  return kids;
}

/**
 * Ticks used so far by a process and everything it started (bench/ws-load.ts
 * forks its subscriber processes): its own, its reaped children's, and its
 * live children's in turn.
 */
function treeTicks(pid: number, kids: Map<number, number[]>): number | null {
  const stat = readStat(pid);
  if (!stat) return null;
  return stat.own + stat.children + (kids.get(pid) ?? []).reduce((sum, kid) => sum + (treeTicks(kid, kids) ?? 0), 0);
}

/** Busy and total ticks of all CPUs since boot (the first line of /proc/stat). */
function readMachine(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is already inside user)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

const run = (cmd: string, args: string[]): string => {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    // pgrep exits 1 when nothing matches.
    return "";
  }
};
const pids = (text: string): number[] => [...text.matchAll(/\d+/g)].map((m) => Number(m[0]));
const comm = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
};

/**
 * The pids of a shared service: the processes pgrep finds by name, narrowed
 * to those listening on the service's ports when there are more (other test
 * runs start throwaway redis-servers, and the Redis Cluster's six nodes are
 * redis-servers too).
 */
function servicePid(name: string, byName: number[], ports: readonly number[]): { pids: number[]; note?: string } {
  if (byName.length <= ports.length) return { pids: byName, ...(byName.length === 0 ? { note: `${name}: no process found` } : {}) };
  // ss -ltnp lists each listener's process as users:(("redis-server",pid=2213,fd=6)).
  const listening = ports.flatMap((port) => [...run("ss", ["-ltnpH", `sport = :${port}`]).matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])));
  const chosen = byName.filter((p) => listening.includes(p));
  if (chosen.length > 0) return { pids: chosen };
  return { pids: byName, note: `${name}: ${byName.length} processes and none seen listening on :${ports.join(",:")}; all counted` };
}

const portOf = (url: string, fallback: number): number => Number(new URL(url).port || fallback);

export interface ServicePids {
  pids: Record<"elasticsearch" | "redis" | "mariadb" | "rabbitmq", number[]>;
  notes: string[];
}

/** The one shared Redis server's port: what a target uses unless it names its Redis servers. */
export const SINGLE_REDIS_PORTS: readonly number[] = [portOf(services.redis, 6379)];

/**
 * Finds the shared services' processes now (they can restart between
 * scenarios), with the Redis servers on `redisPorts` (one server, or every
 * node of the Redis Cluster). It runs pgrep and ss, which takes a while on a
 * busy machine: call it ahead when a window must open at a precise moment.
 */
export function servicePids(redisPorts: readonly number[] = SINGLE_REDIS_PORTS): ServicePids {
  const es = servicePid("elasticsearch", pids(run("pgrep", ["-f", "org.elasticsearch"])).filter((p) => comm(p) === "java"), [portOf(services.elasticsearch, 9200)]);
  const redis = servicePid("redis", pids(run("pgrep", ["-x", "redis-server"])), redisPorts);
  const mariadb = servicePid("mariadb", pids(run("pgrep", ["-x", "mariadbd"])), [portOf(services.mysql, 3306)]);
  const rabbit = servicePid("rabbitmq", pids(run("pgrep", ["-x", "beam.smp"])), [portOf(services.amqp, 5672)]);
  return {
    pids: { elasticsearch: es.pids, redis: redis.pids, mariadb: mariadb.pids, rabbitmq: rabbit.pids },
    notes: [es.note, redis.note, mariadb.note, rabbit.note].filter((n): n is string => n !== undefined),
  };
}

/**
 * Child processes that generate load (bench/ws-load.ts, open-loop clients),
 * with whatever they start in turn. They count as the load generator, and
 * one that exits inside a window is still counted: its time moves into this
 * process's cutime/cstime once reaped.
 * Kept for the whole run (a few per scenario), so a window that outlives a
 * child still knows what to take off.
 */
const loadChildren = new Set<ChildProcess>();
export function trackLoadGenerator(child: ChildProcess): void {
  loadChildren.add(child);
}
const reaped = (c: ChildProcess): boolean => c.exitCode !== null || c.signalCode !== null;

export interface CpuUsage {
  wallMs: number;
  /** CPU µs per component over the window; null when a process restarted or vanished in it. */
  us: Record<Component, number | null>;
  /** The components the target's creates use; the others' time is unrelated load. */
  involves: Component[];
  /** Sum of the involved components, the machine's busy time, and the difference. */
  totalUs: number;
  machineBusyUs: number;
  /** All cores over the window: how busy the machine was. */
  machineCapacityUs: number;
  unaccountedUs: number;
  pids: Record<Component, number[]>;
  notes: string[];
}

export interface CpuWindow {
  close(): CpuUsage;
}

/**
 * Starts measuring the target under test: its API and worker processes, the
 * shared services, and the load generator (this process plus the tracked
 * load children). Call close() when the window ends.
 */
export function openCpuWindow(
  target: { pids(): { api: number[]; worker: number[] }; involves: readonly Component[]; redisPorts?: readonly number[] },
  found: ServicePids = servicePids(target.redisPorts),
): CpuWindow {
  const groups: Record<Component, number[]> = { ...target.pids(), ...found.pids, loadgen: [] };
  const notes = [...found.notes];
  const start = new Map<number, Stat | null>();
  for (const c of COMPONENTS) for (const pid of groups[c]) start.set(pid, readStat(pid));
  const children = new Map<ChildProcess, number>();
  const live = [...loadChildren].filter((c) => !reaped(c) && c.pid);
  const kids0 = live.length ? childrenByParent() : new Map<number, number[]>();
  for (const child of live) children.set(child, treeTicks(child.pid!, kids0) ?? 0);
  const self0 = readStat("self")!;
  const machine0 = readMachine();
  const t0 = performance.now();

  return {
    close() {
      const machine1 = readMachine();
      const self1 = readStat("self")!;
      const wallMs = performance.now() - t0;
      const us = {} as Record<Component, number | null>;
      for (const c of COMPONENTS) {
        if (c === "loadgen") continue;
        let ticks = 0;
        let valid = groups[c].length > 0;
        for (const pid of groups[c]) {
          const a = start.get(pid);
          const b = readStat(pid);
          if (!a || !b || a.startedAt !== b.startedAt) {
            valid = false;
            notes.push(`${c}: pid ${pid} ${b ? "restarted" : "vanished"} during the window`);
          } else ticks += b.own - a.own;
        }
        us[c] = valid ? usOf(ticks) : null;
      }
      // This process, plus every load child's time inside the window. A child
      // reaped meanwhile is in Δchildren with its whole life, so its time
      // before the window is taken off; a live one is read directly (one
      // started inside the window had nothing before it).
      let load = self1.own - self0.own + (self1.children - self0.children);
      const kids1 = [...loadChildren].some((c) => !reaped(c)) ? childrenByParent() : new Map<number, number[]>();
      for (const child of loadChildren) {
        const before = children.get(child) ?? 0;
        if (reaped(child)) load -= before;
        else if (child.pid) load += (treeTicks(child.pid, kids1) ?? before) - before;
      }
      us.loadgen = usOf(load);
      groups.loadgen = [process.pid, ...[...loadChildren].flatMap((c) => (c.pid ? [c.pid] : []))];
      const totalUs = target.involves.reduce((sum, c) => sum + (us[c] ?? 0), 0);
      const machineBusyUs = usOf(machine1.busy - machine0.busy);
      return {
        wallMs,
        us,
        involves: [...target.involves],
        totalUs,
        machineBusyUs,
        machineCapacityUs: wallMs * 1000 * cpus().length,
        unaccountedUs: machineBusyUs - totalUs,
        pids: groups,
        notes,
      };
    },
  };
}
