import { resolveMetricsOptions, type MetricsOptions } from "./options.js";

/** The metrics lines of the CLI's --help. */
export const metricsUsage = `  --metrics on|off    serve Prometheus metrics on the port           [METRICS, default on]
  --metrics-path PATH where the metrics are served                  [METRICS_PATH, default /metrics]
  --metrics-token T   scrapes must send "authorization: Bearer T"    [METRICS_TOKEN; unset: this host only]
  --metrics-public on|off  with no token, serve every client         [METRICS_PUBLIC, default off: other
                      hosts and requests a proxy forwarded get 403]
  --process-metrics on|off  CPU, memory, event loop and GC metrics  [PROCESS_METRICS, default on]
`;

/** The metrics flags for node:util parseArgs. */
export const metricsFlags = {
  metrics: { type: "string" },
  "metrics-path": { type: "string" },
  "metrics-token": { type: "string" },
  "metrics-public": { type: "string" },
  "process-metrics": { type: "string" },
} as const;

function onOff(flag: string, env: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  const v = raw.trim().toLowerCase();
  if (["on", "true", "1", "yes"].includes(v)) return true;
  if (["off", "false", "0", "no"].includes(v)) return false;
  throw new Error(`--${flag} (${env}) must be on or off, got "${raw}"`);
}

/** The server's metrics block from flags and environment (`pick(flag, ENV)`); validated, errors name the flag. */
export function metricsFromCli(pick: (flag: string, env: string) => string | undefined): Partial<MetricsOptions> {
  const opts: Partial<MetricsOptions> = {
    enabled: onOff("metrics", "METRICS", pick("metrics", "METRICS")),
    path: pick("metrics-path", "METRICS_PATH"),
    token: pick("metrics-token", "METRICS_TOKEN"),
    public: onOff("metrics-public", "METRICS_PUBLIC", pick("metrics-public", "METRICS_PUBLIC")),
    defaultMetrics: onOff("process-metrics", "PROCESS_METRICS", pick("process-metrics", "PROCESS_METRICS")),
  };
  try {
    resolveMetricsOptions(opts);
  } catch (e) {
    const msg = (e as Error).message;
    if (msg.startsWith("metrics.path")) throw new Error(`--metrics-path (METRICS_PATH): ${msg}`);
    if (msg.startsWith("metrics.token")) throw new Error(`--metrics-token (METRICS_TOKEN): ${msg}`);
    throw e;
  }
  return opts;
}
