import type { Tracer } from "@opentelemetry/api";
import type { CountingBroker } from "./broker.js";

/** Options of the Prometheus endpoint and the per-call metrics (see docs/metrics.md). */
export interface MetricsOptions {
  /** Count calls, connections and bytes and serve them at `path` (default true). */
  enabled: boolean;
  /** Where the Prometheus text is served (default "/metrics"). */
  path: string;
  /** Also export prom-client's process and Node.js metrics (CPU, memory, event loop lag, GC; default true). */
  defaultMetrics: boolean;
  /**
   * When set, scrapes must send `authorization: Bearer <token>`; others get 401. The endpoint is on
   * the public port: set a token or keep the path away from the internet at the proxy.
   */
  token?: string;
  /**
   * Without a token, whether clients other than loopback ones may scrape (default false: they get
   * 403, so a server put on the internet as it is does not show its traffic to everyone).
   */
  public: boolean;
  /** Upper bounds of the handling-time histogram, in seconds, ascending. */
  buckets: number[];
  /** Brokers made with instrumentBroker() whose publish and deliver counts are exported. */
  brokers: CountingBroker[];
}

/** Options of the OpenTelemetry tracing interceptor (off by default). */
export interface TracingOptions {
  /** Start a span per call (default false). */
  enabled: boolean;
  /** The tracer to use (default: trace.getTracer("oneport") from the globally registered provider). */
  tracer?: Tracer;
}

/** Handling-time buckets: Prometheus' defaults with three more below 5 ms, where most unary calls end. */
export const defaultBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Metrics on at /metrics, with process metrics, no token: loopback clients only. */
export const defaultMetricsOptions: MetricsOptions = {
  enabled: true,
  path: "/metrics",
  public: false,
  defaultMetrics: true,
  buckets: defaultBuckets,
  brokers: [],
};

const TOKEN = /^[\x21-\x7e]{1,256}$/;

/** Validates the `metrics` options block and fills in defaults; throws an Error that names the bad option. */
export function resolveMetricsOptions(opts: Partial<MetricsOptions> = {}): MetricsOptions {
  for (const k of Object.keys(opts)) {
    if (!(k in defaultMetricsOptions) && k !== "token") throw new Error(`unknown metrics option "${k}"; known: ${[...Object.keys(defaultMetricsOptions), "token"].join(", ")}`);
  }
  const out: MetricsOptions = { ...defaultMetricsOptions };
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  for (const k of ["enabled", "defaultMetrics", "public"] as const) {
    if (typeof out[k] !== "boolean") throw new Error(`metrics.${k} must be true or false, got ${String(out[k])}`);
  }
  if (typeof out.path !== "string" || !out.path.startsWith("/") || /[?#\s]/.test(out.path)) {
    throw new Error(`metrics.path must be a path such as "/metrics", got ${JSON.stringify(out.path)}`);
  }
  if (out.token !== undefined && (typeof out.token !== "string" || !TOKEN.test(out.token))) {
    throw new Error("metrics.token must be 1 to 256 printable ASCII characters without spaces");
  }
  const b = out.buckets;
  if (!Array.isArray(b) || b.length === 0 || b.some((x, i) => typeof x !== "number" || !Number.isFinite(x) || x <= 0 || (i > 0 && x <= b[i - 1]))) {
    throw new Error(`metrics.buckets must be positive finite numbers in ascending order, got ${JSON.stringify(b)}`);
  }
  out.buckets = [...b];
  out.brokers = [...(out.brokers ?? [])];
  return out;
}

/** Validates the `tracing` options block. */
export function resolveTracingOptions(opts: Partial<TracingOptions> = {}): TracingOptions {
  for (const k of Object.keys(opts)) if (k !== "enabled" && k !== "tracer") throw new Error(`unknown tracing option "${k}"; known: enabled, tracer`);
  const enabled = opts.enabled ?? false;
  if (typeof enabled !== "boolean") throw new Error(`tracing.enabled must be true or false, got ${String(enabled)}`);
  return { enabled, tracer: opts.tracer };
}
