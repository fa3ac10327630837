import type { DescService } from "@bufbuild/protobuf";
import type { Interceptor, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import { resolveWsOptions, type WsOptions } from "./ws/options.js";
import { resolveRestOptions, type RestOptions } from "./rest/options.js";
import { resolveCorsOptions, type CorsOptions } from "./http/cors.js";
import { resolveAuthOptions, type AuthOptions, type ResolvedAuthOptions } from "./auth/options.js";
import { resolveMetricsOptions, resolveTracingOptions, type MetricsOptions, type TracingOptions } from "./observability/options.js";
import type { Feature, ServerContext } from "./server.js";

/** One service to serve: its generated descriptor and a (partial) Connect implementation. */
export interface ServiceRegistration<S extends DescService = DescService> {
  service: S;
  impl: Partial<ServiceImpl<S>>;
}

/** Helper that keeps the implementation type-checked against its descriptor. */
export function service<S extends DescService>(desc: S, impl: Partial<ServiceImpl<S>>): ServiceRegistration {
  return { service: desc, impl } as unknown as ServiceRegistration;
}

/** PEM certificate and key; with them the port speaks TLS (ALPN h2 and http/1.1). */
export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  ca?: string | Buffer;
}

/** Limits enforced alike on every protocol. */
export interface Limits {
  /** Largest message a client may send, in bytes (RESOURCE_EXHAUSTED beyond; REST bodies and WebSocket frames too). */
  maxMessageBytes: number;
  /** Largest message the server sends, in bytes (like grpc-go, separate from the receive limit). */
  maxSendMessageBytes: number;
  /** Largest deadline a client may ask for; longer ones are shortened to it (0 = no cap). */
  maxTimeoutMs: number;
  /** Deadline of unary calls that ask none (0 = none). Streams without a deadline are not limited. */
  unaryTimeoutMs: number;
  /** Most simultaneous TCP connections on the port (0 = unlimited). */
  maxConnections: number;
  /** Most concurrent streams per HTTP/2 connection. */
  maxConcurrentStreams: number;
  /** Time a connection may take to complete a request's headers (HTTP/1.1), its first request's headers (HTTP/2), or its TLS handshake; slowloris protection. */
  headersTimeoutMs: number;
  /** Time a whole HTTP/1.1 request (headers and body) may take to arrive (0 = no limit; at least headersTimeoutMs). */
  requestTimeoutMs: number;
  /** A connection with no request in flight (HTTP/1.1 keep-alive, HTTP/2 without open streams) is closed after this long (0 = never). */
  idleTimeoutMs: number;
  /** Request body bytes an HTTP/1.1 connection still reads and drops after an answer sent before the body ended, to stay open; a longer unread rest closes it (0 = close whenever a body is left unread). */
  maxUnreadBodyBytes: number;
  /** Largest request header block in bytes (HTTP/1.1 431, HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE; WebSocket upgrades too). */
  maxHeaderBytes: number;
  /** Most header fields in one request, not counting HTTP/2's pseudo-headers (HTTP/1.1 431, HTTP/2 RST_STREAM(ENHANCE_YOUR_CALM); WebSocket upgrades too). */
  maxHeaderCount: number;
  /** Memory one HTTP/2 connection may hold in MiB (header tables, queued frames, data waiting for a slow reader); past it new streams on that connection are refused with RST_STREAM(ENHANCE_YOUR_CALM), existing ones go on. */
  http2MaxSessionMemoryMb: number;
  /** PING, SETTINGS and client stream resets (RST_STREAM) an HTTP/2 connection may send per second on average; past it GOAWAY(ENHANCE_YOUR_CALM) (0 = no limit). */
  http2ControlFrameRate: number;
  /** How many such HTTP/2 frames may come at once before http2ControlFrameRate applies (at most 900: below nghttp2's own reset limit, see docs/hardening.md). */
  http2ControlFrameBurst: number;
  /** Streams an HTTP/2 client may reset before their handler ran ("rapid reset", CVE-2023-44487), at once, on a connection that keeps resetting; refilled at http2ControlFrameRate; past it GOAWAY(ENHANCE_YOUR_CALM). Capped at http2ControlFrameBurst. */
  http2RapidResetBurst: number;
  /** After a connection is closed for an HTTP/2 flood, new connections from its client address (IPv6: its /64) are refused this long (0 = off; docs/hardening.md). */
  floodCooldownMs: number;
  /** Time graceful shutdown waits for in-flight calls before it closes connections. */
  shutdownTimeoutMs: number;
  /**
   * Time graceful shutdown first keeps serving while it reports not ready (/readyz 503, health
   * NOT_SERVING), so a load balancer stops sending new calls before the listener closes (0 = none).
   */
  shutdownDelayMs: number;
}

/** Options of createServer(). Everything is optional; defaults are safe. */
export interface ServerOptions {
  services: ServiceRegistration[];
  interceptors: Interceptor[];
  port: number;
  host: string;
  tls?: TlsOptions;
  limits: Partial<Limits>;
  logger?: Logger;
  /** Serve grpc.health.v1.Health (default true). */
  health: boolean;
  /** Serve gRPC server reflection v1 and v1alpha (default true). */
  reflection: boolean;
  /** The WebSocket bridge at /ws: path, allowed origins, limits (see WsOptions). */
  ws: Partial<WsOptions>;
  /** REST transcoding and its docs: metadata header allowlist, deadline header, /openapi.json and /docs (see RestOptions). */
  rest: Partial<RestOptions>;
  /** Cross-origin access for browsers; no origin is allowed unless listed (see CorsOptions). */
  cors: Partial<CorsOptions>;
  /** Prometheus metrics at /metrics: on by default, optional bearer token (see MetricsOptions). */
  metrics: Partial<MetricsOptions>;
  /** OpenTelemetry spans per call through @opentelemetry/api (off by default, see TracingOptions). */
  tracing: Partial<TracingOptions>;
  /** Extra features (pages, health bindings, ...), built with the server's context; asked after the built-in ones. */
  features: Array<(ctx: ServerContext) => Feature>;
  /** Authentication and per-method authorization on every protocol (see AuthOptions, docs/auth.md); absent = no auth layer. */
  auth?: AuthOptions;
}

/** Default limits: generous for real traffic, closed against abuse. */
export const defaultLimits: Limits = {
  maxMessageBytes: 4 * 1024 * 1024,
  maxSendMessageBytes: 16 * 1024 * 1024,
  maxTimeoutMs: 5 * 60 * 1000,
  unaryTimeoutMs: 60 * 1000,
  maxConnections: 10_000,
  maxConcurrentStreams: 250,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  idleTimeoutMs: 120_000,
  maxUnreadBodyBytes: 256 * 1024,
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 128,
  http2MaxSessionMemoryMb: 64,
  http2ControlFrameRate: 100,
  http2ControlFrameBurst: 500,
  http2RapidResetBurst: 100,
  floodCooldownMs: 10_000,
  shutdownTimeoutMs: 10_000,
  shutdownDelayMs: 0,
};

/** Validated, defaulted options as the server uses them. */
export interface ResolvedOptions extends Omit<ServerOptions, "auth" | "limits" | "ws" | "rest" | "cors" | "metrics" | "tracing"> {
  auth?: ResolvedAuthOptions;
  limits: Limits;
  ws: WsOptions;
  rest: RestOptions;
  cors: CorsOptions;
  metrics: MetricsOptions;
  tracing: TracingOptions;
}

/** The limits that guard against abuse and cannot be turned off: at least 1. */
export const requiredLimits = ["maxMessageBytes", "headersTimeoutMs", "maxHeaderBytes", "maxHeaderCount", "http2MaxSessionMemoryMb", "maxConcurrentStreams", "http2ControlFrameBurst", "http2RapidResetBurst"] as const;

// Every option's name, checked against ServerOptions by the compiler (a new option must be added here).
const SERVER_OPTIONS = Object.keys({
  services: 0, interceptors: 0, port: 0, host: 0, tls: 0, limits: 0, logger: 0, health: 0, reflection: 0, ws: 0, rest: 0, cors: 0, metrics: 0, tracing: 0, features: 0, auth: 0,
} satisfies Record<keyof ServerOptions, 0>);

/** Validates options once and fills in defaults; throws an Error that says which option is wrong. */
export function resolveOptions(opts: Partial<ServerOptions>): ResolvedOptions {
  for (const k of Object.keys(opts)) {
    if (!SERVER_OPTIONS.includes(k)) throw new Error(`unknown option "${k}"; known options: ${SERVER_OPTIONS.join(", ")}`);
  }
  (opts.services ?? []).forEach((s, i) => {
    const desc = (s as { service?: { kind?: unknown } } | null)?.service;
    if (desc?.kind !== "service") throw new Error(`services[${i}] is not a service registration: pass service(TheService, implementation), not the descriptor alone`);
  });
  (opts.interceptors ?? []).forEach((f, i) => {
    if (typeof f !== "function") throw new Error(`interceptors[${i}] must be an interceptor, a function (next) => (req) => ..., got ${typeof f}`);
  });
  if (opts.host !== undefined && typeof opts.host !== "string") throw new Error(`host must be a string such as "127.0.0.1", got ${JSON.stringify(opts.host)}`);
  const limits: Limits = { ...defaultLimits };
  for (const [k, v] of Object.entries(opts.limits ?? {})) {
    if (!(k in defaultLimits)) throw new Error(`unknown limit "${k}"; known limits: ${Object.keys(defaultLimits).join(", ")}`);
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw new Error(`limit ${k} must be a non-negative integer, got ${String(v)}`);
    (limits as unknown as Record<string, number>)[k] = v;
  }
  for (const k of requiredLimits) {
    if (limits[k] < 1) throw new Error(`limit ${k} must be at least 1 (it guards against abuse and cannot be turned off)`);
  }
  // nghttp2 (Node 20) answers its 1000th rapid reset with a GOAWAY that leaves the connection open,
  // and a budget that runs out together with it hung the process in tests: ours must act first.
  if (limits.http2ControlFrameBurst > 900) throw new Error(`limit http2ControlFrameBurst must be at most 900 (below nghttp2's own limit of 1000 resets), got ${limits.http2ControlFrameBurst}`);
  if (limits.requestTimeoutMs > 0 && limits.requestTimeoutMs < limits.headersTimeoutMs) {
    throw new Error(`limit requestTimeoutMs (${limits.requestTimeoutMs}) must be 0 or at least headersTimeoutMs (${limits.headersTimeoutMs})`);
  }
  const port = opts.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port must be an integer from 0 to 65535, got ${JSON.stringify(port)}`);
  if (opts.tls && (!opts.tls.cert || !opts.tls.key)) throw new Error("tls needs both cert and key");
  return {
    services: opts.services ?? [],
    interceptors: opts.interceptors ?? [],
    port,
    host: opts.host ?? "127.0.0.1",
    tls: opts.tls,
    limits,
    logger: opts.logger,
    health: opts.health ?? true,
    reflection: opts.reflection ?? true,
    ws: resolveWsOptions(opts.ws),
    rest: resolveRestOptions(opts.rest),
    cors: resolveCorsOptions(opts.cors),
    auth: opts.auth ? resolveAuthOptions(opts.auth, opts.logger) : undefined,
    metrics: resolveMetricsOptions(opts.metrics),
    tracing: resolveTracingOptions(opts.tracing),
    features: opts.features ?? [],
  };
}
