// What the soak prints while it runs and at the end: progress lines, the RSS table, the summary.
import type { Sample, TrendVerdict } from "./trend.js";
import type { Tally } from "./tally.js";

const mib = (b: number | undefined) => (b === undefined ? "-" : (b / 1024 / 1024).toFixed(1));

/** One progress line: elapsed, calls by protocol, errors, memory. */
export function progressLine(elapsedS: number, tally: Tally, chatSent: number, samples: Sample[]): string {
  const last = samples.at(-1);
  const lastGc = [...samples].reverse().find((s) => s.heapAfterGc !== undefined);
  const protocols = [...tally.byProtocol].map(([p, c]) => `${p} ${c.calls}`).join(", ");
  let expected = 0;
  for (const c of tally.byProtocol.values()) expected += c.expectedErrors;
  const slow = tally.takeSlowest();
  return `[${String(Math.round(elapsedS)).padStart(5)}s] calls ${tally.calls} (${protocols}) | injected errors ${expected} | unexpected ${tally.unexpectedTotal} | chat sent ${chatSent} | RSS ${mib(last?.rss)} MiB, heap after GC ${mib(lastGc?.heapAfterGc)} MiB, connections ${lastGc?.connections ?? "-"}, ws streams ${lastGc?.wsStreams ?? "-"} | slowest call ${slow ? `${Math.round(slow.ms)} ms (${slow.what})` : "-"}`;
}

/** The RSS over time as a table of about `rows` rows (every sample is in the JSON report). */
export function rssTable(samples: Sample[], rows = 20): string {
  if (samples.length === 0) return "(no samples)";
  // Rows on the GC samples where there are any, so that the heap column is filled.
  const gc = samples.filter((s) => s.heapAfterGc !== undefined);
  const from = gc.length >= rows ? gc : samples;
  const every = Math.max(1, Math.floor(from.length / rows));
  const picked = from.filter((_, i) => i % every === 0);
  if (picked.at(-1) !== from.at(-1)) picked.push(from.at(-1)!);
  const lo = Math.min(...samples.map((s) => s.rss));
  const hi = Math.max(...samples.map((s) => s.rss));
  const lines = ["   time   RSS MiB  heap after GC MiB", "  -----  --------  -----------------"];
  for (const s of picked) {
    // A bar over the range of the run, so that a trend shows at a glance.
    const bar = "#".repeat(hi === lo ? 1 : 1 + Math.round(((s.rss - lo) / (hi - lo)) * 39));
    lines.push(`  ${`${Math.round(s.t)}s`.padStart(5)}  ${mib(s.rss).padStart(8)}  ${mib(s.heapAfterGc).padStart(17)}  ${bar}`);
  }
  return lines.join("\n");
}

/** The per-protocol table of calls. */
export function callTable(tally: Tally, skipped: Map<string, number>): string {
  const lines = ["  protocol           calls        ok  injected  unexpected  known defect  skipped ticks", "  ----------------  --------  --------  --------  ----------  ------------  -------------"];
  for (const [p, c] of [...tally.byProtocol].sort()) {
    lines.push(`  ${p.padEnd(16)}  ${String(c.calls).padStart(8)}  ${String(c.ok).padStart(8)}  ${String(c.expectedErrors).padStart(8)}  ${String(c.unexpected).padStart(10)}  ${String(c.knownDefects).padStart(12)}  ${String(skipped.get(p) ?? 0).padStart(13)}`);
  }
  return lines.join("\n");
}

/** The trend figures in one line. */
export function trendLine(v: TrendVerdict): string {
  return `after warm-up: heap after GC slope ${v.heapSlopeMiBPerMin.toFixed(2)} MiB/min; RSS slope ${v.slopeMiBPerMin.toFixed(2)} MiB/min, median ${v.postWarmupMedianMiB.toFixed(1)} MiB, last quarter median ${v.lastQuarterMedianMiB.toFixed(1)} MiB (${v.lastQuarterRisePct >= 0 ? "+" : ""}${v.lastQuarterRisePct.toFixed(1)}%), ${v.samples} samples`;
}
