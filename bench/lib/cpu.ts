import { readFileSync } from "node:fs";
import { Redis } from "ioredis";

/** CPU time (user + system, ms) a process has used so far, from /proc (clock ticks of 10 ms). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU time (ms) the Redis servers on `ports` have used so far (INFO cpu; the single Redis is shared with anything else using it). */
export async function redisCpuMs(ports: number[]): Promise<number> {
  let ms = 0;
  for (const port of ports) {
    const node = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await node.connect();
      const text = await node.info("cpu");
      for (const field of ["used_cpu_user", "used_cpu_sys"]) ms += Number(new RegExp(`^${field}:([\\d.]+)`, "m").exec(text)?.[1] ?? 0) * 1000;
    } finally {
      node.disconnect();
    }
  }
  return ms;
}
