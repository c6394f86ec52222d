import net from "node:net";

/** What came back on one raw TCP connection. */
export interface RawExchange {
  /** Every byte the server sent, as latin1 text. */
  received: string;
  /** The first response's status, or null when none arrived. */
  status: number | null;
  /** The first response's headers, names lower-cased. */
  headers: Record<string, string>;
  body: string;
  /** The server closed (FIN), reset the connection, or it was still open at the deadline. */
  ended: "closed" | "reset" | "open";
}

/**
 * Writes `parts` (one after the other) on a fresh connection and records what
 * comes back until the server ends the connection or `deadlineMs` passes,
 * whichever is first; the deadline is a liveness bound, not a measurement.
 */
export function rawHttp(port: number, parts: string | Buffer | (string | Buffer)[], deadlineMs = 5000): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (ended: RawExchange["ended"]): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseResponse(Buffer.concat(chunks).toString("latin1")), ended });
    };
    const timer = setTimeout(() => finish("open"), deadlineMs);
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("end", () => finish("closed"));
    socket.on("close", () => finish("closed"));
    socket.on("error", (err: NodeJS.ErrnoException) => finish(err.code === "ECONNRESET" ? "reset" : "closed"));
    socket.once("connect", () => {
      for (const part of Array.isArray(parts) ? parts : [parts]) socket.write(part);
    });
  });
}

/** A minimal request head; `headers` lines go in as given (so tests can repeat or omit any). */
export function requestHead(method: string, target: string, headers: string[] = ["Host: test"], version = "HTTP/1.1"): string {
  return `${method} ${target} ${version}\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`;
}

function parseResponse(received: string): Omit<RawExchange, "ended"> {
  const end = received.indexOf("\r\n\r\n");
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(received);
  if (!match || end < 0) return { received, status: null, headers: {}, body: "" };
  const headers: Record<string, string> = {};
  for (const line of received.slice(0, end).split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { received, status: Number(match[1]), headers, body: received.slice(end + 4) };
}
