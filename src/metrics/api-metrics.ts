import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CreateObserver } from "../ports/create-observer.js";
import type { RequestObserver, ResponseDone } from "../transport/http/response-observer.js";

/** Any other method is counted as "other": a client could otherwise mint label values. */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

interface RouteSeries {
  duration: Histogram.Internal<"method" | "route">;
  /** By status code. */
  answered: Map<number, Counter.Internal>;
}

/** Where the WebSocket numbers come from at scrape time. */
export interface RealtimeGauges {
  connections(): number;
  framesSent(): number;
}

/**
 * The API role's Prometheus metrics, one registry per server (tests run
 * several servers in one process). Label values are bounded: route patterns,
 * methods and status codes only.
 */
export class ApiMetrics implements RequestObserver, CreateObserver {
  readonly registry = new Registry();
  private readonly requests: Counter<"method" | "route" | "status">;
  private readonly duration: Histogram<"method" | "route">;
  private readonly messagesCreatedTotal: Counter;
  private readonly batchSize: Histogram;
  private readonly inflightCreates: Gauge;
  private readonly numberingRecovering: Gauge;
  private readonly series = new Map<string, RouteSeries>();

  constructor(realtime: RealtimeGauges) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: "chat_http_requests_total", help: "REST requests answered, by route pattern and status", labelNames: ["method", "route", "status"], registers });
    this.duration = new Histogram({
      name: "chat_http_request_duration_seconds",
      help: "Time from a REST request's arrival to its response",
      labelNames: ["method", "route"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.messagesCreatedTotal = new Counter({ name: "chat_messages_created_total", help: "Messages created through this process (REST and WebSocket), counted once durable", registers });
    this.batchSize = new Histogram({
      name: "chat_create_batch_size",
      help: "Creates carried by one numbering allocation and publish",
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
      registers,
    });
    this.inflightCreates = new Gauge({ name: "chat_inflight_creates", help: "Creates submitted and not yet answered", registers });
    this.numberingRecovering = new Gauge({ name: "chat_numbering_recovering", help: "1 while numbering refuses allocations until counters are recovered", registers });
    new Gauge({
      name: "chat_ws_connections",
      help: "Open WebSocket connections",
      registers,
      collect() {
        this.set(realtime.connections());
      },
    });
    let reported = 0;
    new Counter({
      name: "chat_ws_frames_sent_total",
      help: "Frames written to WebSockets, one per receiving socket",
      registers,
      collect() {
        const now = realtime.framesSent();
        this.inc(now - reported);
        reported = now;
      },
    });
  }

  started(requestMethod: string, route: string): ResponseDone {
    const method = METHODS.has(requestMethod) ? requestMethod : "other";
    const series = this.seriesOf(method, route);
    const start = process.hrtime.bigint();
    return (status) => {
      series.duration.observe(Number(process.hrtime.bigint() - start) / 1e9);
      let answered = series.answered.get(status);
      if (!answered) series.answered.set(status, (answered = this.requests.labels(method, route, String(status))));
      answered.inc();
    };
  }

  /** The label children of one method and route, made once: prom-client hashes a label object on every call otherwise. */
  private seriesOf(method: string, route: string): RouteSeries {
    const key = `${method} ${route}`;
    let series = this.series.get(key);
    if (!series) this.series.set(key, (series = { duration: this.duration.labels(method, route), answered: new Map() }));
    return series;
  }

  messagesCreated(count: number): void {
    this.messagesCreatedTotal.inc(count);
  }

  batch(size: number): void {
    this.batchSize.observe(size);
  }

  inflight(delta: 1 | -1): void {
    this.inflightCreates.inc(delta);
  }

  recovering(on: boolean): void {
    this.numberingRecovering.set(on ? 1 : 0);
  }
}
