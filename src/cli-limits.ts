import { defaultLimits, requiredLimits, type Limits } from "./config.js";
import { defaultWsOptions, positiveWsOptions, type WsOptions } from "./ws/options.js";

// One row per limit the CLI sets: the option key, its help, and the largest value accepted. The flag
// and the environment variable are derived from the key (maxHeaderBytes: --max-header-bytes,
// MAX_HEADER_BYTES; ws.maxBufferedBytes: --ws-max-buffered-bytes, WS_MAX_BUFFERED_BYTES).
type Row<K extends string> = [key: K, help: string, max?: number];

const MAX = 2 ** 31 - 1;
const limitRows: Row<keyof Limits>[] = [
  ["maxSendMessageBytes", "largest message the server sends"],
  ["maxTimeoutMs", "longest deadline a client may ask; 0 = no cap"],
  ["unaryTimeoutMs", "deadline of unary calls that set none; 0 = none"],
  ["maxConnections", "most TCP connections at once; 0 = unlimited"],
  ["maxConcurrentStreams", "most streams per HTTP/2 connection"],
  ["maxHeaderBytes", "largest request header block (431 / RST_STREAM)"],
  ["maxHeaderCount", "most header fields in a request (431 / RST_STREAM)"],
  ["http2MaxSessionMemoryMb", "MiB one HTTP/2 connection may hold; new streams refused beyond"],
  ["headersTimeoutMs", "time to send request headers / finish TLS handshake"],
  ["requestTimeoutMs", "time for a whole HTTP/1.1 request to arrive; 0 = none"],
  ["idleTimeoutMs", "close connections with no request in flight; 0 = never"],
  ["maxUnreadBodyBytes", "body an early HTTP/1.1 answer still drains to keep the connection"],
  ["http2ControlFrameRate", "PING/SETTINGS/RST_STREAM per second per connection"],
  ["http2ControlFrameBurst", "... of which this many may come at once", 900],
  ["http2RapidResetBurst", "... and streams reset before their handler ran", 900],
  ["floodCooldownMs", "refuse an address's connections this long after a flood; 0 = off"],
];
const wsRows: Row<keyof WsOptions>[] = [
  ["maxConnections", "most WebSocket connections at once (503 beyond)"],
  ["maxStreamsPerConnection", "most open streams per WebSocket"],
  ["maxBufferedBytes", "send buffer per WebSocket; slow readers' streams end"],
  ["maxFrameBytes", "largest WebSocket frame a client may send"],
  ["idleTimeoutMs", "close a WebSocket without streams or frames; 0 = never"],
];

const kebab = (k: string) => k.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
const flagOf = (prefix: string, key: string) => prefix + kebab(key);
const envOf = (flag: string) => flag.replace(/-/g, "_").toUpperCase();

const required: ReadonlySet<string> = new Set(requiredLimits);
const rows = [
  ...limitRows.map((r) => ({ flag: flagOf("", r[0]), key: r[0], help: r[1], min: required.has(r[0]) ? 1 : 0, max: r[2] ?? MAX, def: defaultLimits[r[0]], ws: false })),
  ...wsRows.map((r) => ({ flag: flagOf("ws-", r[0]), key: r[0], help: r[1], min: positiveWsOptions.has(r[0]) ? 1 : 0, max: r[2] ?? MAX, def: defaultWsOptions[r[0]] as number, ws: true })),
];

/** parseArgs options of the limit flags. */
export const limitFlags: Record<string, { type: "string" }> = Object.fromEntries(rows.map((r) => [r.flag, { type: "string" as const }]));

/** The limit flags' lines of `--help`. */
export const limitsUsage = `  Limits (docs/hardening.md):\n${rows.map((r) => `  --${r.flag} N\n` + " ".repeat(22) + `${r.help} [${envOf(r.flag)}, default ${r.def}]\n`).join("")}`;

/** Reads the limit flags (flag, else environment); throws an Error naming the flag when a value is not an integer in range. */
export function limitsFromCli(pick: (flag: string, env: string) => string | undefined): { limits: Partial<Limits>; ws: Partial<WsOptions> } {
  const limits: Record<string, number> = {};
  const ws: Record<string, number> = {};
  for (const r of rows) {
    const raw = pick(r.flag, envOf(r.flag));
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || n < r.min || n > r.max) throw new Error(`--${r.flag} (${envOf(r.flag)}) must be an integer from ${r.min} to ${r.max}, got "${raw}"`);
    (r.ws ? ws : limits)[r.key] = n;
  }
  // Checked here too so that the CLI says which flags disagree instead of failing at start.
  const headers = limits.headersTimeoutMs ?? defaultLimits.headersTimeoutMs;
  const request = limits.requestTimeoutMs ?? defaultLimits.requestTimeoutMs;
  if (request > 0 && request < headers) throw new Error(`--request-timeout-ms (REQUEST_TIMEOUT_MS, ${request}) must be 0 or at least --headers-timeout-ms (HEADERS_TIMEOUT_MS, ${headers})`);
  return { limits: limits as Partial<Limits>, ws: ws as Partial<WsOptions> };
}
