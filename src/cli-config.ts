import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import type { ServerOptions } from "./config.js";
import { corsFlags, corsFromCli, corsUsage } from "./http/cors-cli.js";
import { authFlags, authFromCli, authUsage } from "./auth/cli.js";
import { metricsFlags, metricsFromCli, metricsUsage } from "./observability/cli.js";
import { DEV_CHAT_TOKENS, parseTokens } from "./core/auth.js";
import { limitFlags, limitsFromCli, limitsUsage } from "./cli-limits.js";
import { normalizeOrigin } from "./ws/options.js";

/** Usage text of `npx tsx src/main.ts --help`. */
export const usage = `Usage: npx tsx src/main.ts [options]

Serves the example API (and chat, REST, WebSocket as they are enabled) on ONE port:
gRPC, gRPC-Web and Connect over HTTP/2 cleartext, HTTP/1.1 and TLS.

Options (each also read from the environment variable in brackets; flags win):
  --port N            port to listen on, 0 picks a free one        [PORT, default 8080]
  --host ADDR         address to bind                               [HOST, default 127.0.0.1]
  --tls-cert FILE     PEM certificate; with --tls-key enables TLS   [TLS_CERT]
  --tls-key FILE      PEM private key                               [TLS_KEY]
  --log-level LEVEL   fatal, error, warn, info, debug, trace, silent [LOG_LEVEL, default info]
  --max-message-bytes N   largest message a client may send        [MAX_MESSAGE_BYTES, default 4194304]
  --shutdown-timeout-ms N grace period for in-flight calls          [SHUTDOWN_TIMEOUT_MS, default 10000]
  --shutdown-delay-ms N   before that, keep serving this long while /readyz says 503,
                      for load balancers to take the server out  [SHUTDOWN_DELAY_MS, default 0]
  --workers N|auto    worker processes sharing the port; auto = one per core [WORKERS, default 1]
  --redis-url URL     share chat rooms between instances via Redis  [REDIS_URL, unset = in memory]
  --chat-tokens LIST  chat tokens as name:token,name2:token2       [CHAT_TOKENS, default: dev tokens
                      alice:alice-token,bob:bob-token, for local use only]
  --ws-origins LIST   other origins whose pages may open /ws, comma-separated [WS_ORIGINS,
                      default: only the server's own] (https://app.example.com)
${metricsUsage}${authUsage}${corsUsage}${limitsUsage}  -h, --help          show this text
`;

/** The CLI's settings once parsed and validated. */
export interface CliConfig {
  help: boolean;
  logLevel: string;
  /** Worker processes serving the port (1 = no cluster). */
  workers: number;
  /** redis:// or rediss:// URL of the broker; undefined = in memory (or the cluster relay). */
  redisUrl?: string;
  /** Chat token -> author name. */
  chatTokens: Map<string, string>;
  /** True when no tokens were given and the well-known dev tokens are in use. */
  devChatTokens: boolean;
  server: Partial<ServerOptions>;
}

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** Parses flags and environment; throws an Error whose message says what to fix. */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv): CliConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "log-level": { type: "string" },
        "max-message-bytes": { type: "string" },
        "shutdown-timeout-ms": { type: "string" },
        "shutdown-delay-ms": { type: "string" },
        workers: { type: "string" },
        "redis-url": { type: "string" },
        "chat-tokens": { type: "string" },
        "ws-origins": { type: "string" },
        ...metricsFlags,
        ...authFlags,
        ...limitFlags,
        ...corsFlags,
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new Error(`${(e as Error).message}\nRun with --help to see the options.`);
  }
  const pick = (flag: string, name: string) => (values as Record<string, string | undefined>)[flag] ?? (env[name] === "" ? undefined : env[name]);
  const int = (flag: string, name: string, min: number, max: number): number | undefined => {
    const raw = pick(flag, name);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || n < min || n > max) throw new Error(`--${flag} (${name}) must be an integer from ${min} to ${max}, got "${raw}"`);
    return n;
  };
  const logLevel = pick("log-level", "LOG_LEVEL") ?? "info";
  if (!LEVELS.includes(logLevel)) throw new Error(`--log-level (LOG_LEVEL) must be one of ${LEVELS.join(", ")}, got "${logLevel}"`);
  const cert = pick("tls-cert", "TLS_CERT");
  const key = pick("tls-key", "TLS_KEY");
  if ((cert === undefined) !== (key === undefined)) throw new Error("TLS needs both --tls-cert (TLS_CERT) and --tls-key (TLS_KEY)");
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(`cannot read the TLS ${what} "${file}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const fromFlags = limitsFromCli(pick);
  const limits: Record<string, number> = { ...fromFlags.limits };
  const maxMessageBytes = int("max-message-bytes", "MAX_MESSAGE_BYTES", 1, 2 ** 31 - 1);
  if (maxMessageBytes !== undefined) limits.maxMessageBytes = maxMessageBytes;
  const shutdownTimeoutMs = int("shutdown-timeout-ms", "SHUTDOWN_TIMEOUT_MS", 0, 3_600_000);
  if (shutdownTimeoutMs !== undefined) limits.shutdownTimeoutMs = shutdownTimeoutMs;
  const shutdownDelayMs = int("shutdown-delay-ms", "SHUTDOWN_DELAY_MS", 0, 3_600_000);
  if (shutdownDelayMs !== undefined) limits.shutdownDelayMs = shutdownDelayMs;
  const workersRaw = pick("workers", "WORKERS");
  let workers = 1;
  if (workersRaw?.trim() === "auto") workers = availableParallelism();
  else if (workersRaw !== undefined) {
    workers = Number(workersRaw);
    if (!/^\d+$/.test(workersRaw.trim()) || workers < 1 || workers > 256) throw new Error(`--workers (WORKERS) must be "auto" or an integer from 1 to 256, got "${workersRaw}"`);
  }
  const redisUrl = pick("redis-url", "REDIS_URL");
  if (redisUrl !== undefined && !/^rediss?:\/\/[^/?#]/.test(redisUrl)) throw new Error(`--redis-url (REDIS_URL) must look like redis://host:6379 or rediss://host:6380, got "${redisUrl}"`);
  const tokensRaw = pick("chat-tokens", "CHAT_TOKENS");
  let chatTokens: Map<string, string>;
  try {
    chatTokens = parseTokens(tokensRaw ?? DEV_CHAT_TOKENS);
  } catch (e) {
    throw new Error(`--chat-tokens (CHAT_TOKENS): ${(e as Error).message}`);
  }
  const wsOrigins = pick("ws-origins", "WS_ORIGINS")?.split(",").map((o) => o.trim()).filter((o) => o !== "");
  try {
    wsOrigins?.forEach(normalizeOrigin);
  } catch (e) {
    throw new Error(`--ws-origins (WS_ORIGINS): ${(e as Error).message.replace(/^ws\.allowedOrigins: /, "")}`);
  }
  return {
    help: values.help === true,
    logLevel,
    workers,
    redisUrl,
    chatTokens,
    devChatTokens: tokensRaw === undefined,
    server: {
      port: int("port", "PORT", 0, 65535) ?? 8080,
      host: pick("host", "HOST") ?? "127.0.0.1",
      tls: cert && key ? { cert: read(cert, "certificate"), key: read(key, "key") } : undefined,
      limits,
      cors: corsFromCli(pick),
      ws: wsOrigins ? { ...fromFlags.ws, allowedOrigins: wsOrigins } : fromFlags.ws,
      auth: authFromCli(pick, values["ws-require-auth"], env, chatTokens),
      metrics: metricsFromCli(pick),
    },
  };
}
