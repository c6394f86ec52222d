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
 * comes back until `done(received)` says so, the server ends the connection,
 * or `deadlineMs` passes (ended "open"); the deadline is a liveness bound,
 * not a measurement.
 */
function exchange(port: number, parts: (string | Buffer)[], deadlineMs: number, view: (received: string) => string, done: (text: string) => boolean): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = Buffer.alloc(0);
    let finished = false;
    const finish = (ended: RawExchange["ended"]): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseResponse(view(received.toString("latin1"))), ended });
    };
    const timer = setTimeout(() => finish("open"), deadlineMs);
    socket.on("data", (d: Buffer) => {
      received = Buffer.concat([received, d]);
      if (done(view(received.toString("latin1")))) finish("closed");
    });
    socket.on("end", () => finish("closed"));
    socket.on("close", () => finish("closed"));
    socket.on("error", (err: NodeJS.ErrnoException) => finish(err.code === "ECONNRESET" ? "reset" : "closed"));
    socket.once("connect", () => {
      for (const part of parts) socket.write(part);
    });
  });
}

/** Writes `parts` and records everything until the server ends the connection (or the deadline). */
export function rawHttp(port: number, parts: string | Buffer | (string | Buffer)[], deadlineMs = 5000): Promise<RawExchange> {
  return exchange(port, Array.isArray(parts) ? parts : [parts], deadlineMs, (text) => text, () => false);
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

/**
 * One request on a fresh connection, resolved as soon as one complete
 * response arrived (by Content-Length, chunked framing, or close), skipping
 * 1xx interim responses; `head` says the response has no body. A request
 * still unanswered at `deadlineMs` resolves with ended "open".
 */
export function rawRequest(port: number, request: Buffer, deadlineMs: number, head = false): Promise<RawExchange> {
  return exchange(port, [request], deadlineMs, finalResponse, (text) => complete(text, head));
}

/** The text from the first non-1xx response on. */
function finalResponse(text: string): string {
  let rest = text;
  while (/^HTTP\/1\.[01] 1\d\d /.test(rest)) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) return rest;
    rest = rest.slice(end + 4);
  }
  return rest;
}

function complete(text: string, head: boolean): boolean {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return false;
  if (head) return true;
  const headers = text.slice(0, end).toLowerCase();
  const length = /\r\ncontent-length: *(\d+)/.exec(headers);
  if (length) return Buffer.byteLength(text.slice(end + 4), "latin1") >= Number(length[1]);
  if (/\r\ntransfer-encoding: *chunked/.test(headers)) return text.endsWith("\r\n0\r\n\r\n");
  return false;
}
