import * as net from "node:net";
import WebSocket from "ws";
import { createWebSocketTransport, type WebSocketConstructor, type WebSocketTransport, type WebSocketTransportOptions } from "../../src/client/index.js";

/** `ws`'s WebSocket, counting the sockets the transport opens. */
export function countingWebSocket(): { WebSocket: WebSocketConstructor; opened: () => number } {
  let n = 0;
  class Counting extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      n++;
    }
  }
  return { WebSocket: Counting, opened: () => n };
}

/** `ws`'s WebSocket without ping(): the transport then probes like a browser does. */
export class BrowserLikeWebSocket extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols);
    Object.defineProperty(this, "ping", { value: undefined });
  }
}

/** A transport for tests on Node 20 (no global WebSocket); closed by the caller. */
export function wsTransport(baseUrl: string, opts: Partial<WebSocketTransportOptions> = {}): WebSocketTransport {
  return createWebSocketTransport({ baseUrl, WebSocket, ...opts });
}

/** A TCP proxy to `port` that can cut or freeze every connection through it, to fake a network. */
export interface Proxy {
  port: number;
  /** Connections through the proxy right now. */
  connections(): number;
  /** Destroys every connection (the peer sees a reset, no close frame). */
  cut(): void;
  /** Stops forwarding in both directions without closing anything (a dead network). */
  freeze(): void;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1:0 to 127.0.0.1:`target`. */
export async function startProxy(target: number): Promise<Proxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let frozen = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) => from.on("data", (d) => !frozen && to.write(d));
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of pair) {
      s.on("error", end);
      s.on("close", end);
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => pairs.size,
    cut: () => pairs.forEach(([a, b]) => (a.resetAndDestroy(), b.destroy())),
    freeze: () => (frozen = true),
    close: () => {
      pairs.forEach(([a, b]) => (a.destroy(), b.destroy()));
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** An async iterable the test pushes into, for client and bidi streams. */
export function pushable<T>(): AsyncIterable<T> & { push(v: T): void; end(): void } {
  const items: T[] = [];
  let done = false;
  let wake: (() => void) | undefined;
  return {
    push(v) {
      items.push(v);
      wake?.();
    },
    end() {
      done = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (items.length > 0) yield items.shift() as T;
        else if (done) return;
        else await new Promise<void>((r) => (wake = r));
      }
    },
  };
}
