/** Options of the WebSocket bridge at /ws: its path, allowed origins and limits. */
export interface WsOptions {
  /** Serve the bridge (default true). */
  enabled: boolean;
  /** The upgrade path (default "/ws"). */
  path: string;
  /**
   * Origins allowed besides the server's own (same host as the Host header), e.g.
   * "https://app.example.com". Browsers always send Origin; clients that send none are allowed.
   */
  allowedOrigins: string[];
  /** Largest frame a client may send, in bytes; larger frames fail their stream. */
  maxFrameBytes: number;
  /** Most open streams on one connection; more get RESOURCE_EXHAUSTED. */
  maxStreamsPerConnection: number;
  /** Most WebSocket connections at once; more get HTTP 503 at upgrade. */
  maxConnections: number;
  /** A connection without open streams and without frames for this long is closed (0 = never). */
  idleTimeoutMs: number;
  /** Ping period; a peer that has not answered the previous ping is dropped (0 = no pings). */
  pingIntervalMs: number;
  /** Bytes that may wait in a connection's send buffer; a stream that sends beyond it gets RESOURCE_EXHAUSTED. */
  maxBufferedBytes: number;
  /** Requests received but not yet read by the implementation, per stream; more get RESOURCE_EXHAUSTED. */
  maxPendingMessages: number;
}

/** Defaults: room for real traffic, closed against abuse. */
export const defaultWsOptions: WsOptions = {
  enabled: true,
  path: "/ws",
  allowedOrigins: [],
  maxFrameBytes: 4 * 1024 * 1024,
  maxStreamsPerConnection: 250,
  maxConnections: 10_000,
  idleTimeoutMs: 300_000,
  pingIntervalMs: 30_000,
  maxBufferedBytes: 8 * 1024 * 1024,
  maxPendingMessages: 256,
};

const numeric = ["maxFrameBytes", "maxStreamsPerConnection", "maxConnections", "idleTimeoutMs", "pingIntervalMs", "maxBufferedBytes", "maxPendingMessages"] as const;
/** The numeric ws options that must be at least 1 (the others may be 0: off). */
export const positiveWsOptions: ReadonlySet<string> = new Set(["maxFrameBytes", "maxStreamsPerConnection", "maxConnections", "maxBufferedBytes", "maxPendingMessages"]);

/** Validates the `ws` options block and fills in defaults; throws an Error that names the bad option. */
export function resolveWsOptions(opts: Partial<WsOptions> = {}): WsOptions {
  for (const k of Object.keys(opts)) {
    if (!(k in defaultWsOptions)) throw new Error(`unknown ws option "${k}"; known: ${Object.keys(defaultWsOptions).join(", ")}`);
  }
  const out: WsOptions = { ...defaultWsOptions, ...withoutUndefined(opts), allowedOrigins: [...(opts.allowedOrigins ?? [])] };
  for (const k of numeric) {
    const v = out[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < (positiveWsOptions.has(k) ? 1 : 0)) {
      throw new Error(`ws.${k} must be an integer of at least ${positiveWsOptions.has(k) ? 1 : 0}, got ${String(v)}`);
    }
  }
  if (typeof out.enabled !== "boolean") throw new Error(`ws.enabled must be true or false, got ${String(out.enabled)}`);
  if (typeof out.path !== "string" || !out.path.startsWith("/") || /[?#\s]/.test(out.path)) {
    throw new Error(`ws.path must be a path such as "/ws", got ${JSON.stringify(out.path)}`);
  }
  out.allowedOrigins = out.allowedOrigins.map(normalizeOrigin);
  return out;
}

/** "https://App.example.com:443/" -> "https://app.example.com"; throws on anything that is not an origin. */
export function normalizeOrigin(origin: string): string {
  if (origin === "null") return origin;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new Error(`ws.allowedOrigins: "${origin}" is not an origin such as "https://app.example.com"`);
  }
  if (url.origin === "null" || url.pathname.length > 1 || url.search || url.hash || url.username) {
    throw new Error(`ws.allowedOrigins: "${origin}" is not an origin such as "https://app.example.com" (scheme, host and port only)`);
  }
  return url.origin;
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
