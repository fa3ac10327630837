/**
 * Turns the runner's `--vv` output into pass/total counts per protocol: every test case is announced
 * as `Sending request for "NAME"` and every failure as `FAILED: NAME:`. Pure functions over text.
 */

/** The three protocols the suite tests against a server. */
export type Protocol = "connect" | "grpc" | "grpc-web";

/** Counts of one protocol. */
export interface Tally {
  passed: number;
  total: number;
}

/** The protocol a test case name belongs to, from its Protocol segment or its suite's name. */
export function protocolOf(name: string): Protocol | undefined {
  const seg = /\/Protocol:PROTOCOL_(CONNECT|GRPC_WEB|GRPC)\//.exec(name);
  if (seg) return seg[1] === "CONNECT" ? "connect" : seg[1] === "GRPC" ? "grpc" : "grpc-web";
  if (name.startsWith("gRPC-Web ")) return "grpc-web";
  if (name.startsWith("gRPC ")) return "grpc";
  if (name.startsWith("Connect ")) return "connect";
  return undefined;
}

/** Tallies the runner's output by protocol; cases whose protocol is not known count under "other". */
export function tally(output: string): Record<Protocol | "other", Tally> {
  const sent = new Set<string>();
  const failed = new Set<string>();
  for (const m of output.matchAll(/^Sending request for "(.+)"\.\.\.$/gm)) sent.add(m[1]);
  for (const m of output.matchAll(/^FAILED: (.+):$/gm)) failed.add(m[1]);
  // A case that never got sent (its server failed to start, say) still failed.
  for (const f of failed) sent.add(f);
  const out: Record<Protocol | "other", Tally> = {
    connect: { passed: 0, total: 0 },
    grpc: { passed: 0, total: 0 },
    "grpc-web": { passed: 0, total: 0 },
    other: { passed: 0, total: 0 },
  };
  for (const name of sent) {
    const t = out[protocolOf(name) ?? "other"];
    t.total++;
    if (!failed.has(name)) t.passed++;
  }
  return out;
}
