// What metrics cost per call (BENCH_ROUNDS, BENCH_SECONDS, BENCH_CALLS). Two measurements, each interleaved against its baseline in the same run:
//  1. in process: Pipeline.unary through the metrics interceptor vs. the same pipeline without it
//     (the interceptor's own cost, in ns per call, without sockets or load generator noise);
//  2. end to end: oneport with metrics on vs. off under h2load (server CPU µs per call and req/s),
//     gRPC over HTTP/2 and Connect JSON over HTTP/1.1; a scrape at the end checks the counts.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { Pipeline } from "../../src/core/pipeline.js";
import { Registry } from "../../src/core/registry.js";
import { HelloRequestSchema } from "../../src/gen/example/example_pb.js";
import { CallTable } from "../../src/observability/calls.js";
import { metricsInterceptor } from "../../src/observability/interceptor.js";
import { defaultBuckets } from "../../src/observability/options.js";
import { exampleService } from "../../src/services/example.js";
import { ensureTools, h2load, median, startChild, type LoadResult } from "./load.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const here = new URL(".", import.meta.url).pathname;

// 1. In process.
async function inProcess(): Promise<void> {
  const registry = new Registry();
  registry.add(exampleService());
  const m = registry.lookup("/example.ExampleService/SayHello")!;
  const shutdown = new AbortController();
  const table = new CallTable(defaultBuckets);
  const pipelines = { off: new Pipeline([], shutdown.signal, 0), on: new Pipeline([metricsInterceptor(table)], shutdown.signal, 0) };
  const input = create(HelloRequestSchema, { name: "Bob" });
  const calls = Number(process.env.BENCH_CALLS ?? 100_000);
  const run = async (p: Pipeline) => {
    const t0 = process.cpuUsage();
    for (let i = 0; i < calls; i++) {
      const ctx = p.context(m, { protocol: "grpc", requestMethod: "POST", url: "/example.ExampleService/SayHello", requestHeader: {} });
      await p.unary(m, ctx, input);
      ctx.abort();
    }
    const d = process.cpuUsage(t0);
    return ((d.user + d.system) * 1000) / calls; // ns per call
  };
  await run(pipelines.off); // warm-up (JIT)
  await run(pipelines.on);
  const ns: Record<"off" | "on", number[]> = { off: [], on: [] };
  for (let r = 0; r < rounds * 2; r++) {
    for (const k of r % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const)) ns[k].push(await run(pipelines[k]));
  }
  const off = median(ns.off);
  const on = median(ns.on);
  const counted = [...table.all()][0];
  console.log(`\nIn process, Pipeline.unary SayHello, ${calls} calls x ${rounds * 2} interleaved rounds (medians):`);
  console.log(`  without metrics  ${off.toFixed(0).padStart(6)} ns/call CPU`);
  console.log(`  with metrics     ${on.toFixed(0).padStart(6)} ns/call CPU   x ${(on / off).toFixed(3)}   (+${(on - off).toFixed(0)} ns per call)`);
  console.log(`  (counted: ${counted.started} started, ${counted.handled[0]} OK)`);
}

await inProcess();

// 2. End to end.
ensureTools();
const dir = mkdtempSync(join(tmpdir(), "oneport-bench-"));
const grpcBody = join(dir, "grpc.bin");
const jsonBody = join(dir, "hello.json");
const msg = toBinary(HelloRequestSchema, create(HelloRequestSchema, { name: "Bob" }));
writeFileSync(grpcBody, Buffer.concat([Buffer.from([0, 0, 0, 0, msg.length]), msg]));
writeFileSync(jsonBody, JSON.stringify({ name: "Bob" }));
const scenarios = [
  { name: "gRPC unary, HTTP/2", h1: false, headers: ["content-type: application/grpc", "te: trailers"], body: grpcBody },
  { name: "Connect JSON unary, HTTP/1.1", h1: true, headers: ["content-type: application/json", "connect-protocol-version: 1"], body: jsonBody },
];
const servers: Record<"off" | "on", { pid: number; port: number; kill: () => void }> = {} as never;
try {
  for (const k of ["off", "on"] as const) {
    const { proc, port } = await startChild(join(here, "servers", "oneport-metrics.ts"), [k]);
    servers[k] = { pid: proc.pid!, port, kill: () => proc.kill("SIGTERM") };
  }
  const run = (s: (typeof scenarios)[number], k: "off" | "on", secs: number) =>
    h2load(servers[k].pid, `http://127.0.0.1:${servers[k].port}/example.ExampleService/SayHello`, { h1: s.h1, headers: s.headers, body: s.body, seconds: secs });
  for (const s of scenarios) for (const k of ["off", "on"] as const) run(s, k, 1); // warm-up
  const results = new Map<string, LoadResult[]>();
  for (let r = 0; r < rounds; r++) {
    for (const s of scenarios) {
      for (const k of r % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const)) {
        const res = run(s, k, seconds);
        if (res.succeeded !== res.done) throw new Error(`metrics ${k} failed ${res.done - res.succeeded} of ${res.done} requests in ${s.name}`);
        results.set(`${s.name}|${k}`, [...(results.get(`${s.name}|${k}`) ?? []), res]);
      }
    }
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }
  // The server with metrics on counted every call it answered (h2load's requests are all SayHello OK).
  const text = await (await fetch(`http://127.0.0.1:${servers.on.port}/metrics`)).text();
  const handled = [...text.matchAll(/^oneport_server_handled_total\{[^}]*method="SayHello"[^}]*code="OK"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  const answered = [...results.entries()].filter(([k]) => k.endsWith("|on")).flatMap(([, v]) => v).reduce((n, x) => n + x.succeeded, 0);
  console.log(`\nEnd to end, server on one core, h2load on another; medians of ${rounds} interleaved rounds of ${seconds}s.`);
  for (const s of scenarios) {
    const med = (k: string, f: (x: LoadResult) => number) => median(results.get(`${s.name}|${k}`)!.map(f));
    console.log(`\n${s.name}`);
    console.log(`  ${"metrics".padEnd(8)} ${"req/s".padStart(9)} ${"CPU µs/call".padStart(12)} ${"CPU x off".padStart(10)} ${"req/s x off".padStart(12)}`);
    for (const k of ["off", "on"] as const) {
      console.log(`  ${k.padEnd(8)} ${med(k, (x) => x.reqPerSec).toFixed(0).padStart(9)} ${med(k, (x) => x.cpuUsPerCall).toFixed(1).padStart(12)} ${(med(k, (x) => x.cpuUsPerCall) / med("off", (x) => x.cpuUsPerCall)).toFixed(3).padStart(10)} ${(med(k, (x) => x.reqPerSec) / med("off", (x) => x.reqPerSec)).toFixed(3).padStart(12)}`);
    }
  }
  console.log(`\nCounted by the server with metrics on: ${handled} SayHello OK (>= ${answered} answered in the measured rounds, plus warm-up)`);
  if (handled < answered) throw new Error("the metrics server counted fewer calls than it answered");
} finally {
  for (const s of Object.values(servers)) s.kill();
  rmSync(dir, { recursive: true, force: true });
}
