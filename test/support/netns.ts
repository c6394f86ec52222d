import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

// Several hosts on one machine: each host is a network namespace with its own
// veth interface and address on a private bridge (10.231.N.0/24, N picked
// free per run), so traffic between an API node and anything else crosses
// real interfaces and the kernel's routing, never loopback. The services
// listen on the machine's 127.0.0.1 only; relays (socat) expose them on the
// bridge's address, the "services host" every namespace routes to. A Redis
// Cluster hands its clients the addresses its nodes announce (127.0.0.1:700x),
// so inside each namespace a relay on its own loopback forwards those ports to
// the services host: the address translation a NAT between networks does.
// Everything stays on this machine. A detached shell removes the namespaces,
// the bridge and the relays if this process dies before close().

const run = promisify(execFile);

const ip = (...args: string[]): Promise<unknown> => run("ip", args);

export interface NetnsHost {
  /** The namespace's name (for `ip netns exec`). */
  ns: string;
  address: string;
}

/** `socat` relaying `bind:port` to `target:port`, forking a child per connection. */
function relay(prefix: string[], bind: string, port: number, target: string): ChildProcess {
  const args = [...prefix, "socat", `TCP-LISTEN:${port},bind=${bind},fork,reuseaddr,nodelay`, `TCP:${target}:${port},nodelay`];
  return spawn(args[0]!, args.slice(1), { stdio: "ignore" });
}

async function freeSubnet(): Promise<number> {
  const { stdout } = await run("ip", ["-o", "-4", "addr"]);
  for (let tries = 0; tries < 50; tries++) {
    const n = Math.floor(Math.random() * 256);
    if (!stdout.includes(` 10.231.${n}.`)) return n;
  }
  throw new Error("no free 10.231.N.0/24 subnet");
}

export class NetnsHosts {
  private readonly relays: ChildProcess[] = [];
  private closed = false;

  private constructor(
    readonly id: string,
    /** The bridge's address: where the services are reached. */
    readonly gateway: string,
    readonly hosts: NetnsHost[],
    private readonly bridge: string,
    /** The host-side relays' pids, for the dead-man switch. */
    private readonly pidFile: string,
    private readonly deadMan: ChildProcess,
  ) {}

  private startRelay(prefix: string[], bind: string, port: number, target: string): void {
    const child = relay(prefix, bind, port, target);
    this.relays.push(child);
    if (prefix.length === 0) appendFileSync(this.pidFile, `${child.pid}\n`);
  }

  /**
   * `count` hosts on a new bridge. `servicePorts` are relayed from the
   * gateway to 127.0.0.1; `loopbackPorts` too, and also from each host's own
   * loopback to the gateway (ports whose address a service hands out as
   * 127.0.0.1).
   */
  static async create(count: number, servicePorts: number[], loopbackPorts: number[]): Promise<NetnsHosts> {
    const id = randomBytes(3).toString("hex");
    const subnet = await freeSubnet();
    const gateway = `10.231.${subnet}.1`;
    const bridge = `chbr${id}`;
    const hosts = Array.from({ length: count }, (_, i): NetnsHost => ({ ns: `chat-${id}-${i + 1}`, address: `10.231.${subnet}.${11 + i}` }));
    const pidFile = join(tmpdir(), `chat-netns-${id}.pids`);
    const undo = [
      ...hosts.map((h) => `for p in $(ip netns pids ${h.ns}); do kill -9 $p; done; ip netns del ${h.ns}`),
      `ip link del ${bridge}`,
      `kill -9 $(cat ${pidFile}); rm -f ${pidFile}`,
    ].join("; ");
    // Waits for this process to exit, then undoes everything: a crash never leaves a namespace behind.
    const deadMan = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${undo}`], { detached: true, stdio: "ignore" });
    deadMan.unref();
    const made = new NetnsHosts(id, gateway, hosts, bridge, pidFile, deadMan);
    try {
      await ip("link", "add", bridge, "type", "bridge");
      await ip("addr", "add", `${gateway}/24`, "dev", bridge);
      await ip("link", "set", bridge, "up");
      for (const [i, host] of hosts.entries()) {
        const outside = `chv${id}${i + 1}`;
        const inside = `chp${id}${i + 1}`;
        await ip("netns", "add", host.ns);
        await ip("link", "add", outside, "type", "veth", "peer", "name", inside);
        await ip("link", "set", inside, "netns", host.ns);
        await ip("link", "set", outside, "master", bridge, "up");
        const inNs = (...args: string[]): Promise<unknown> => ip("netns", "exec", host.ns, "ip", ...args);
        await inNs("link", "set", inside, "name", "eth0");
        await inNs("addr", "add", `${host.address}/24`, "dev", "eth0");
        await inNs("link", "set", "eth0", "up");
        await inNs("link", "set", "lo", "up");
        await inNs("route", "add", "default", "via", gateway);
      }
      for (const port of [...servicePorts, ...loopbackPorts]) made.startRelay([], gateway, port, "127.0.0.1");
      for (const host of hosts) for (const port of loopbackPorts) made.startRelay(["ip", "netns", "exec", host.ns], "127.0.0.1", port, gateway);
      await made.reachable(servicePorts, loopbackPorts);
    } catch (err) {
      await made.close();
      throw err;
    }
    return made;
  }

  /** `ip netns exec <ns>`: the prefix that runs a command on host `i`. */
  exec(i: number): string[] {
    return ["ip", "netns", "exec", this.hosts[i]!.ns];
  }

  /** Waits until every relay accepts connections, from inside every namespace. */
  private async reachable(servicePorts: number[], loopbackPorts: number[]): Promise<void> {
    const probe = (ns: string, host: string, port: number): Promise<unknown> =>
      run("ip", ["netns", "exec", ns, "bash", "-c", `for i in $(seq 100); do (exec 3<>/dev/tcp/${host}/${port}) 2>/dev/null && exit 0; sleep 0.05; done; exit 1`]);
    const ports = [...servicePorts, ...loopbackPorts];
    await Promise.all(this.hosts.flatMap((h) => [...ports.map((p) => probe(h.ns, this.gateway, p)), ...loopbackPorts.map((p) => probe(h.ns, "127.0.0.1", p))]));
  }

  /**
   * The latency each hop adds, measured by round trips one at a time (median
   * of 2,000): the network hop (a host's veth, the bridge) against loopback,
   * and the two relays a service is reached through (one in the namespace,
   * one on the bridge) on top of that, on `relayedPort` (a Redis node).
   */
  async hopLatency(relayedPort: number): Promise<string> {
    const echo = net.createServer((s) => s.on("data", (d) => s.write(d)).on("error", () => undefined));
    await new Promise<void>((resolve) => echo.listen(0, "0.0.0.0", resolve));
    const echoPort = (echo.address() as net.AddressInfo).port;
    const probe = async (prefix: string[], host: string, port: number, mode: "echo" | "redis"): Promise<number> => {
      const argv = [...prefix, process.execPath, "--import", "tsx", fileURLToPath(new URL("./rtt-probe.ts", import.meta.url)), host, String(port), "2000", mode];
      const { stdout } = await run(argv[0]!, argv.slice(1));
      return (JSON.parse(stdout) as { p50: number }).p50;
    };
    try {
      const inNs = this.exec(0);
      const loopback = await probe([], "127.0.0.1", echoPort, "echo");
      const network = await probe(inNs, this.gateway, echoPort, "echo");
      const direct = await probe([], "127.0.0.1", relayedPort, "redis");
      const relayed = await probe(inNs, "127.0.0.1", relayedPort, "redis");
      const us = (v: number): string => `${Math.round(v)} µs`;
      return (
        `round trips, median: loopback ${us(loopback)}, host ${this.hosts[0]!.ns} → bridge ${us(network)} (the network hop adds ${us(network - loopback)}); ` +
        `Redis PING direct ${us(direct)}, from the namespace through both relays ${us(relayed)} (the relays add ${us(relayed - direct - (network - loopback))})`
      );
    } finally {
      echo.close();
    }
  }

  /** Kills what runs in the namespaces and the relays, deletes the namespaces (their veths go with them) and the bridge. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const host of this.hosts) {
      const pids = await run("ip", ["netns", "pids", host.ns]).then(
        ({ stdout }) => stdout.split("\n").filter(Boolean).map(Number),
        () => [],
      );
      for (const pid of pids) killIfAlive(pid);
    }
    for (const r of this.relays) r.kill("SIGKILL");
    for (const host of this.hosts) await ip("netns", "del", host.ns).catch(() => undefined);
    await ip("link", "del", this.bridge).catch(() => undefined);
    rmSync(this.pidFile, { force: true });
    killIfAlive(-this.deadMan.pid!);
  }
}

/**
 * SIGKILL to a pid (or, negative, a process group) that may have exited
 * since it was listed: `ip netns pids` lists processes on their way out too
 * (a serve process the test just stopped), and gone is what was wanted.
 */
function killIfAlive(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}
