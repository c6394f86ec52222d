import { pack, unpack } from "msgpackr";
import WebSocket from "ws";

export type Frame = Record<string, any> & { op: string };
export type Protocol = "chat.v1.json" | "chat.v1.msgpack";

/**
 * A small protocol client. Records every frame; indexes replies by ref and
 * message numbers by chat as they arrive, so the checks that run on every
 * frame stay O(1) even with 50,000 frames.
 */
export class WsClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly listeners = new Set<() => void>();
  private readonly replies = new Map<string | number, Frame>();
  private readonly byChat = new Map<string, { list: number[]; set: Set<number> }>();
  private nextRef = 1;

  private constructor(
    readonly socket: WebSocket,
    readonly protocol: Protocol | null,
  ) {
    socket.binaryType = "nodebuffer";
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      const frame = isBinary ? (unpack(data) as Frame) : (JSON.parse(data.toString("utf8")) as Frame);
      this.frames.push(frame);
      if (frame.ref !== undefined) this.replies.set(frame.ref, frame);
      if (typeof frame.number === "number" && frame.chat !== undefined) {
        const key = `${frame.op}|${frame.app}|${frame.chat}`;
        let entry = this.byChat.get(key);
        if (!entry) this.byChat.set(key, (entry = { list: [], set: new Set() }));
        entry.list.push(frame.number);
        entry.set.add(frame.number);
      }
      for (const l of [...this.listeners]) l();
    });
    this.closed = new Promise((resolve) => socket.once("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
    void this.closed.then(() => {
      for (const l of [...this.listeners]) l();
    });
  }

  static async connect(url: string, protocol: Protocol | null = null): Promise<WsClient> {
    const socket = new WebSocket(url, protocol ? [protocol] : []);
    const client = new WsClient(socket, protocol);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return client;
  }

  send(frame: Record<string, unknown>): void {
    if (this.protocol === "chat.v1.msgpack") this.socket.send(pack(frame), { binary: true });
    else this.socket.send(JSON.stringify(frame), { binary: false });
  }

  raw(data: string | Buffer, binary: boolean): void {
    this.socket.send(data, { binary });
  }

  /** Sends with a fresh ref and resolves with the reply that echoes it. */
  async request(frame: Record<string, unknown>, timeoutMs = 15_000): Promise<Frame> {
    const ref = `r${this.nextRef++}`;
    this.send({ ...frame, ref });
    const reply = await this.until(() => this.replies.get(ref), timeoutMs, `reply to ${frame.op} ${ref}`);
    this.replies.delete(ref);
    return reply;
  }

  /** Resolves when `check` returns a value; re-checked on every frame and on close. Keep checks O(1). */
  until<T>(check: () => T | undefined | false, timeoutMs = 15_000, what = "frame"): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = (): boolean => {
        const value = check();
        if (value === undefined || value === false) return false;
        cleanup();
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}; last frames: ${JSON.stringify(this.frames.slice(-3)).slice(0, 500)}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      const listener = (): void => void done();
      this.listeners.add(listener);
      done();
    });
  }

  private entry(app: string, chat: number, op: string): { list: number[]; set: Set<number> } {
    return this.byChat.get(`${op}|${app}|${chat}`) ?? { list: [], set: new Set() };
  }

  /** Numbers of `message` frames for one chat, in arrival order (a copy). */
  numbers(app: string, chat: number, op = "message"): number[] {
    return [...this.entry(app, chat, op).list];
  }
  count(app: string, chat: number, op = "message"): number {
    return this.entry(app, chat, op).list.length;
  }
  distinct(app: string, chat: number, op = "message"): number {
    return this.entry(app, chat, op).set.size;
  }
  has(app: string, chat: number, n: number, op = "message"): boolean {
    return this.entry(app, chat, op).set.has(n);
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    this.socket.close();
    await this.closed;
  }

  /** Stops reading from the TCP socket (the server's writes back up). */
  pauseReading(): void {
    (this.socket as unknown as { _socket: { pause(): void } })._socket.pause();
  }
  resumeReading(): void {
    (this.socket as unknown as { _socket: { resume(): void } })._socket.resume();
  }
}
