import type { BinaryReadOptions, BinaryWriteOptions, JsonReadOptions, JsonWriteOptions } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import type { FrameFormat } from "./ws-codec.js";

/** The part of the W3C WebSocket API the transport uses; browsers' WebSocket and `ws` both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (ev: any) => void): void;
  removeEventListener(type: string, listener: (ev: any) => void): void;
  /** Present on Node's `ws` only: protocol-level ping (browsers cannot send one). */
  ping?: (data?: unknown) => void;
  /** Present on Node's `ws` only: drops the socket without a closing handshake. */
  terminate?: () => void;
  /** Present on Node's `ws` only: pong events. */
  on?: (event: "pong", listener: () => void) => unknown;
}

/** A WebSocket constructor (the browser's, or `ws` in Node). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Options of createWebSocketTransport(). */
export interface WebSocketTransportOptions {
  /** Base URL of the oneport server, e.g. "https://api.example.com" (ws:// and wss:// work too). */
  baseUrl: string;
  /** The bridge's path on that server (default "/ws"). */
  path?: string;
  /** Binary protobuf frames (`oneport.proto.v1`, default) or JSON frames (`oneport.json.v1`). */
  useBinaryFormat?: boolean;
  /** The WebSocket constructor; default globalThis.WebSocket (pass `ws`'s WebSocket on Node 20). */
  WebSocket?: WebSocketConstructor;
  /** Client interceptors, as with the Connect transports. */
  interceptors?: Interceptor[];
  /** Timeout for calls that set none (ms); undefined or <= 0 means none. */
  defaultTimeoutMs?: number;
  /** How long to wait for the socket to open before a call fails with UNAVAILABLE (default 10 s). */
  connectTimeoutMs?: number;
  /** Idle time after which the connection is probed (default 30 s; 0 disables heartbeats). */
  heartbeatIntervalMs?: number;
  /** A probe unanswered for this long closes the socket; its calls fail with UNAVAILABLE (default 10 s). */
  heartbeatTimeoutMs?: number;
  /**
   * Method that browsers probe with (they cannot send WebSocket pings): any final status for it,
   * even "unimplemented", proves the connection alive. Default "grpc.health.v1.Health/Check".
   */
  heartbeatMethod?: string;
  /** First delay before reconnecting after a failed attempt (default 100 ms); doubles up to maxMs. */
  reconnectInitialDelayMs?: number;
  /** Longest delay between reconnect attempts (default 5 s). */
  reconnectMaxDelayMs?: number;
  /**
   * Most calls open at once on the socket (default 250, the bridge's maxStreamsPerConnection);
   * further calls wait for one to finish, as on an HTTP/2 connection. Keep it at or below the server's limit.
   */
  maxConcurrentStreams?: number;
  /** Largest encoded message a call writes or reads (default 4 MiB, the bridge's default frame limit). */
  maxMessageBytes?: number;
  /** A call writing requests waits while this many bytes sit unsent in the socket (default 1 MiB). */
  maxBufferedBytes?: number;
  /** protobuf-es JSON options (e.g. a registry for google.protobuf.Any), as for the Connect transports. */
  jsonOptions?: Partial<JsonReadOptions & JsonWriteOptions>;
  /** protobuf-es binary options, as for the Connect transports. */
  binaryOptions?: Partial<BinaryReadOptions & BinaryWriteOptions>;
}

/** Options after defaults and validation. */
export interface ResolvedWsTransportOptions {
  url: string;
  format: FrameFormat;
  WebSocket: WebSocketConstructor;
  interceptors: Interceptor[];
  defaultTimeoutMs: number | undefined;
  connectTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  heartbeatMethod: string;
  reconnectInitialDelayMs: number;
  reconnectMaxDelayMs: number;
  maxConcurrentStreams: number;
  maxMessageBytes: number;
  maxBufferedBytes: number;
  jsonOptions: Partial<JsonReadOptions & JsonWriteOptions> | undefined;
  binaryOptions: Partial<BinaryReadOptions & BinaryWriteOptions> | undefined;
}

/** Validates options once and fills in defaults; throws an Error that names the bad option. */
export function resolveTransportOptions(o: WebSocketTransportOptions): ResolvedWsTransportOptions {
  const WS = o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof WS !== "function") {
    throw new Error("createWebSocketTransport: no global WebSocket here (Node 20); pass the `ws` package's WebSocket as the WebSocket option");
  }
  const n = (name: keyof WebSocketTransportOptions, dflt: number, min = 0): number => {
    const v = o[name] ?? dflt;
    if (typeof v !== "number" || !Number.isFinite(v) || v < min) throw new Error(`createWebSocketTransport: ${name} must be a number >= ${min}, got ${String(v)}`);
    return v;
  };
  const integer = (name: keyof WebSocketTransportOptions, dflt: number): number => {
    const v = n(name, dflt, 1);
    if (!Number.isInteger(v)) throw new Error(`createWebSocketTransport: ${name} must be a whole number, got ${v}`);
    return v;
  };
  // 0 or less: no default deadline; anything but a number is a mistake (a string from a config file, say).
  if (o.defaultTimeoutMs !== undefined && (typeof o.defaultTimeoutMs !== "number" || Number.isNaN(o.defaultTimeoutMs))) {
    throw new Error(`createWebSocketTransport: defaultTimeoutMs must be a number of milliseconds, got ${JSON.stringify(o.defaultTimeoutMs)}`);
  }
  const reconnectInitialDelayMs = n("reconnectInitialDelayMs", 100);
  const reconnectMaxDelayMs = n("reconnectMaxDelayMs", 5_000);
  if (reconnectInitialDelayMs > reconnectMaxDelayMs) {
    throw new Error(`createWebSocketTransport: reconnectInitialDelayMs (${reconnectInitialDelayMs}) must not exceed reconnectMaxDelayMs (${reconnectMaxDelayMs})`);
  }
  return {
    url: wsUrl(o.baseUrl, o.path ?? "/ws"),
    format: o.useBinaryFormat === false ? "json" : "proto",
    WebSocket: WS,
    interceptors: o.interceptors ?? [],
    defaultTimeoutMs: o.defaultTimeoutMs !== undefined && o.defaultTimeoutMs > 0 ? o.defaultTimeoutMs : undefined,
    connectTimeoutMs: n("connectTimeoutMs", 10_000, 1),
    heartbeatIntervalMs: n("heartbeatIntervalMs", 30_000),
    heartbeatTimeoutMs: n("heartbeatTimeoutMs", 10_000, 1),
    heartbeatMethod: o.heartbeatMethod ?? "grpc.health.v1.Health/Check",
    reconnectInitialDelayMs,
    reconnectMaxDelayMs,
    maxConcurrentStreams: integer("maxConcurrentStreams", 250),
    maxMessageBytes: integer("maxMessageBytes", 4 * 1024 * 1024),
    maxBufferedBytes: integer("maxBufferedBytes", 1024 * 1024),
    jsonOptions: o.jsonOptions,
    binaryOptions: o.binaryOptions,
  };
}

/** "https://host/api" + "/ws" -> "wss://host/api/ws"; a relative baseUrl resolves against the page. */
export function wsUrl(baseUrl: string, path: string): string {
  if (typeof baseUrl !== "string" || baseUrl === "") throw new Error("createWebSocketTransport: baseUrl is required, e.g. \"https://api.example.com\"");
  const page = (globalThis as { location?: { href: string } }).location?.href;
  let u: URL;
  try {
    u = new URL(baseUrl, page);
  } catch {
    throw new Error(`createWebSocketTransport: baseUrl ${JSON.stringify(baseUrl)} is not a URL`);
  }
  const scheme = { "http:": "ws:", "https:": "wss:", "ws:": "ws:", "wss:": "wss:" }[u.protocol];
  if (!scheme) throw new Error(`createWebSocketTransport: baseUrl must be http(s) or ws(s), got ${u.protocol}`);
  u.protocol = scheme;
  u.pathname = u.pathname.replace(/\/+$/, "") + (path.startsWith("/") ? path : `/${path}`);
  u.search = "";
  u.hash = "";
  return u.toString();
}
