import type { Metric, Registry } from "prom-client";
import { codeLabels, type CallTable } from "./calls.js";

/** One exported sample: a metric name (with _bucket/_sum/_count for histograms), labels and a value. */
interface Sample {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A metric whose samples are computed at scrape time from plain counters. It has the shape
 * prom-client's Registry reads from its own metrics (name, help, type, aggregator and get()), so
 * the registry formats it with the rest; a prom-client Histogram could not be filled from counts.
 */
class ComputedMetric {
  readonly aggregator = "sum";
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge" | "histogram",
    private readonly samples: () => Sample[],
  ) {}

  /** The samples as prom-client's Registry expects them. */
  async get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples() };
  }
}

/** Registers a computed metric with a registry. */
export function registerComputed(registry: Registry, name: string, help: string, type: "counter" | "gauge" | "histogram", samples: () => Sample[]): void {
  registry.registerMetric(new ComputedMetric(name, help, type, samples) as unknown as Metric);
}

/** Registers the per-call metrics of a CallTable (names after grpc-ecosystem/go-grpc-prometheus, prefix oneport_server_). */
export function registerCallMetrics(registry: Registry, table: CallTable): void {
  const each = (value: (c: ReturnType<CallTable["cells"]>) => number) => () => [...table.all()].map((c) => ({ labels: c.labels, value: value(c) }));
  registerComputed(registry, "oneport_server_started_total", "RPCs started on the server, by protocol, service, method and type.", "counter", each((c) => c.started));
  registerComputed(registry, "oneport_server_handled_total", "RPCs finished on the server, by protocol, service, method, type and gRPC code.", "counter", () => {
    const out: Sample[] = [];
    for (const c of table.all()) {
      c.handled.forEach((n, code) => {
        if (n > 0) out.push({ labels: { ...c.labels, code: codeLabels[code] }, value: n });
      });
    }
    return out;
  });
  registerComputed(registry, "oneport_server_msg_received_total", "Request messages the server received (read by the implementation for streams).", "counter", each((c) => c.received));
  registerComputed(registry, "oneport_server_msg_sent_total", "Response messages the server sent.", "counter", each((c) => c.sent));
  registerComputed(registry, "oneport_server_handling_seconds", "Time from the start of an RPC to its end (the last message of a stream), in seconds.", "histogram", () => {
    const out: Sample[] = [];
    const bounds = table.upperBounds;
    for (const c of table.all()) {
      let acc = 0;
      bounds.forEach((le, i) => {
        acc += c.buckets[i];
        out.push({ metricName: "oneport_server_handling_seconds_bucket", labels: { ...c.labels, le }, value: acc });
      });
      acc += c.buckets[bounds.length];
      out.push({ metricName: "oneport_server_handling_seconds_bucket", labels: { ...c.labels, le: "+Inf" }, value: acc });
      out.push({ metricName: "oneport_server_handling_seconds_sum", labels: c.labels, value: c.sum });
      out.push({ metricName: "oneport_server_handling_seconds_count", labels: c.labels, value: acc });
    }
    return out;
  });
}
