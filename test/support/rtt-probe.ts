// Measures round trips to host:port, one at a time: `echo` sends a byte and
// waits for one back; `redis` sends an inline PING and waits for +PONG.
// Prints the median and 99th percentile in microseconds as JSON. Runs as its
// own process, so a test can run it inside a network namespace.
import net from "node:net";

const [host, port, count, mode] = process.argv.slice(2) as [string, string, string, "echo" | "redis"];
const request = mode === "redis" ? "PING\r\n" : "x";
const reply = mode === "redis" ? "+PONG\r\n".length : 1;
const socket = net.connect({ host, port: Number(port), noDelay: true });
socket.once("connect", () => {
  const times: number[] = [];
  let got = 0;
  let sentAt = 0;
  const send = (): void => {
    sentAt = performance.now();
    socket.write(request);
  };
  socket.on("data", (chunk: Buffer) => {
    got += chunk.length;
    if (got < reply) return;
    got = 0;
    times.push((performance.now() - sentAt) * 1000);
    if (times.length < Number(count)) return send();
    times.sort((a, b) => a - b);
    process.stdout.write(JSON.stringify({ p50: times[Math.floor(times.length / 2)], p99: times[Math.floor(times.length * 0.99)] }));
    socket.end();
  });
  send();
});
