import type { Socket } from "node:net";
import type { Interceptor } from "@connectrpc/connect";
import type { GuardEnd } from "../http/h2-guard.js";
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { CallTable } from "./calls.js";
import { registerCallMetrics } from "./collectors.js";
import { ConnectionTable, type TransportFigures } from "./connections.js";
import { metricsInterceptor } from "./interceptor.js";
import type { CountingBroker } from "./broker.js";
import type { MetricsOptions } from "./options.js";

/** What a WebSocket bridge reports at scrape time. */
export interface WebSocketFigures {
  connections: number;
  streams: number;
}

/**
 * The metrics of one server, in a prom-client Registry of its own (tests and embedders run several
 * servers in one process; the global registry would mix them). The hot paths only bump plain
 * numbers; everything is turned into Prometheus samples when /metrics is scraped.
 */
export class ServerMetrics {
  /** The server's prom-client registry; embedders may register their own metrics in it. */
  readonly registry = new Registry();
  /** Counts every call on every protocol; the server puts it outermost in the interceptor chain. */
  readonly interceptor: Interceptor;
  private readonly calls: CallTable;
  private readonly connections = new ConnectionTable();
  private readonly webSockets: Array<() => WebSocketFigures> = [];
  private defaultsStarted = false;

  constructor(private readonly options: MetricsOptions) {
    this.calls = new CallTable(options.buckets);
    this.interceptor = metricsInterceptor(this.calls);
    registerCallMetrics(this.registry, this.calls);
    this.registerConnectionMetrics();
    this.registerWebSocketMetrics();
    this.registerBrokerMetrics();
  }

  /** The listener's hook: the HTTP/2 guard ended a connection ("flood" or "unsent_data"). */
  readonly http2Ended = (reason: GuardEnd): void => void this.http2Ends[reason]++;
  private readonly http2Ends: Record<GuardEnd, number> = { flood: 0, unsent_data: 0 };

  /** The listener's hook: a connection whose transport ("h1", "h2", "h1-tls", "h2-tls") is now known. */
  readonly connection = (socket: Socket, transport: string): void => this.connections.add(socket, transport);

  /** Adds a WebSocket bridge's figures, read at scrape time. */
  watchWebSockets(figures: () => WebSocketFigures): void {
    this.webSockets.push(figures);
  }

  /** The Prometheus text of every metric. */
  async scrape(): Promise<string> {
    // Process metrics start with the first scrape: a server nobody scrapes (most tests, embedded
    // uses) pays nothing for prom-client's event-loop and GC observers.
    if (this.options.defaultMetrics && !this.defaultsStarted) {
      this.defaultsStarted = true;
      collectDefaultMetrics({ register: this.registry });
    }
    return this.registry.metrics();
  }

  /** The content type of scrape()'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  private registerConnectionMetrics(): void {
    const table = this.connections;
    const gauge = (name: string, help: string, pick: (f: TransportFigures) => number) =>
      new Gauge({ name, help, labelNames: ["transport"], registers: [this.registry], collect() {
        this.reset();
        for (const [transport, f] of table.figures()) this.set({ transport }, pick(f));
      } });
    const counter = (name: string, help: string, pick: (f: TransportFigures) => number) =>
      new Counter({ name, help, labelNames: ["transport"], registers: [this.registry], collect() {
        this.reset();
        for (const [transport, f] of table.figures()) this.inc({ transport }, pick(f));
      } });
    gauge("oneport_connections_open", "Open connections by transport (h1, h2, h1-tls, h2-tls), counted once their protocol is known.", (f) => f.open);
    counter("oneport_connections_total", "Connections accepted, by transport.", (f) => f.accepted);
    counter("oneport_received_bytes_total", "Bytes received on connections (HTTP framing included; on TLS transports after decryption), by transport.", (f) => f.read);
    const ends = this.http2Ends;
    new Counter({ name: "oneport_http2_connections_ended_total", help: "HTTP/2 connections the server's guard ended, by reason: flood (GOAWAY ENHANCE_YOUR_CALM) or unsent_data (retired with a graceful GOAWAY before Node's session memory accounting of reset streams' unsent data fills up).", labelNames: ["reason"], registers: [this.registry], collect() {
      this.reset();
      for (const [reason, n] of Object.entries(ends)) this.inc({ reason }, n);
    } });
    counter("oneport_sent_bytes_total", "Bytes sent on connections (HTTP framing included; on TLS transports before encryption), by transport.", (f) => f.written);
  }

  private registerWebSocketMetrics(): void {
    const sources = this.webSockets;
    const sum = (pick: (f: WebSocketFigures) => number) => sources.reduce((n, s) => n + pick(s()), 0);
    new Gauge({ name: "oneport_websocket_connections_open", help: "Open WebSocket connections of the /ws bridge (HTTP/1.1 upgrades and HTTP/2 CONNECT).", registers: [this.registry], collect() {
      this.set(sum((f) => f.connections));
    } });
    new Gauge({ name: "oneport_websocket_streams_open", help: "Open RPC streams on the WebSocket bridge's connections.", registers: [this.registry], collect() {
      this.set(sum((f) => f.streams));
    } });
  }

  private registerBrokerMetrics(): void {
    const brokers = this.options.brokers;
    if (brokers.length === 0) return;
    const counter = (name: string, help: string, pick: (c: CountingBroker["counts"]) => number) =>
      new Counter({ name, help, labelNames: ["broker"], registers: [this.registry], collect() {
        this.reset();
        for (const b of brokers) this.inc({ broker: b.kind }, pick(b.counts));
      } });
    counter("oneport_broker_published_total", "Payloads published through the broker (chat messages sent), by broker kind.", (c) => c.published);
    counter("oneport_broker_publish_failures_total", "Publishes the broker rejected (backend down), by broker kind.", (c) => c.publishFailures);
    counter("oneport_broker_delivered_total", "Payloads the broker handed to this instance's subscribers (one per subscriber), by broker kind.", (c) => c.delivered);
  }
}
