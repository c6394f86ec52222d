import net from "node:net";

// The open-loop load generator's HTTP client. undici spent ~76 µs of CPU per
// request here, which at 10,000/s offered is most of a core of this 2-core
// machine taken from the server being measured; writing a prebuilt request
// onto a socket and reading just the status line, two headers and a
// Content-Length body costs a fraction of that. It speaks only what the
// product's uWS edge answers (HTTP/1.1 keep-alive, Content-Length bodies, or
// Connection: close), one request at a time per connection.

export interface Http1Answer {
  status: number;
  retryAfter: boolean;
  body: string;
}

interface Request {
  bytes: Buffer;
  onWire: () => void;
  resolve: (answer: Http1Answer) => void;
  reject: (err: Error) => void;
}

const HEAD_END = Buffer.from("\r\n\r\n");
/**
 * uWS closes a keep-alive connection idle for 10 s; a request written as it
 * does is lost unanswered. Like undici's keepAliveTimeout, the client closes
 * idle connections first (and opens new ones) well before that.
 */
const IDLE_CLOSE_MS = 4000;

/** A fixed number of keep-alive connections, used in turn; requests beyond them wait in order for the next free one. */
export class Http1Connections {
  private readonly free: Connection[] = [];
  private readonly waiting: Request[] = [];
  private closed = false;
  private readonly idleSweep: NodeJS.Timeout;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly count: number,
  ) {
    this.idleSweep = setInterval(() => {
      const now = performance.now();
      for (const c of this.free) if (now - c.idleSince > IDLE_CLOSE_MS) c.socket.destroy(); // "close" replaces it
    }, 1000);
    this.idleSweep.unref();
  }

  async open(): Promise<void> {
    await Promise.all(Array.from({ length: this.count }, () => this.connect()));
  }

  /** POSTs a JSON body; `onWire` runs as the request is written onto a connection (time before it is the client's). */
  post(path: string, json: string, onWire: () => void): Promise<Http1Answer> {
    const body = Buffer.from(json);
    const head = `POST ${path} HTTP/1.1\r\nHost: ${this.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    return new Promise((resolve, reject) => {
      const request = { bytes: Buffer.concat([Buffer.from(head, "latin1"), body]), onWire, resolve, reject };
      const connection = this.free.shift();
      if (connection) connection.send(request);
      else this.waiting.push(request);
    });
  }

  close(): void {
    this.closed = true;
    clearInterval(this.idleSweep);
    for (const c of this.free) c.socket.destroy();
  }

  private connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
      socket.once("connect", () => {
        socket.off("error", reject);
        this.release(new Connection(socket, (c) => this.release(c), (c) => this.replace(c)));
        resolve();
      });
      socket.once("error", reject);
    });
  }

  private release(connection: Connection): void {
    const next = this.waiting.shift();
    if (next) connection.send(next);
    else this.free.push(connection);
  }

  /** A connection the server closed is replaced, so the count of connections stays what was asked. */
  private replace(gone: Connection): void {
    const i = this.free.indexOf(gone);
    if (i >= 0) this.free.splice(i, 1);
    if (this.closed) return;
    this.connect().catch((err: unknown) => {
      for (const r of this.waiting.splice(0)) r.reject(err instanceof Error ? err : new Error(String(err)));
    });
  }
}

class Connection {
  private current: Request | null = null;
  idleSince = performance.now();
  private buffered: Buffer = Buffer.alloc(0);

  constructor(
    readonly socket: net.Socket,
    private readonly done: (c: Connection) => void,
    onGone: (c: Connection) => void,
  ) {
    socket.on("data", (chunk: Buffer) => this.read(chunk));
    socket.on("error", () => undefined); // "close" follows and fails the request in flight
    socket.on("close", () => {
      const r = this.current;
      this.current = null;
      if (r) r.reject(Object.assign(new Error("connection closed before the answer"), { code: "ECONNRESET" }));
      onGone(this);
    });
  }

  send(request: Request): void {
    this.current = request;
    this.socket.write(request.bytes);
    request.onWire();
  }

  private read(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const headEnd = this.buffered.indexOf(HEAD_END);
    if (headEnd < 0) return;
    const head = this.buffered.toString("latin1", 0, headEnd).toLowerCase();
    const length = /\r\ncontent-length: *(\d+)/.exec(head);
    const bodyStart = headEnd + HEAD_END.length;
    const bodyLength = length ? Number(length[1]) : 0;
    if (this.buffered.length < bodyStart + bodyLength) return;
    const answer: Http1Answer = {
      status: Number(head.slice(9, 12)),
      retryAfter: head.includes("\r\nretry-after:"),
      body: this.buffered.toString("utf8", bodyStart, bodyStart + bodyLength),
    };
    this.buffered = this.buffered.subarray(bodyStart + bodyLength);
    const r = this.current!;
    this.current = null;
    const closing = head.includes("\r\nconnection: close");
    r.resolve(answer);
    this.idleSince = performance.now();
    if (closing) this.socket.end(); // "close" replaces this connection
    else this.done(this);
  }
}
