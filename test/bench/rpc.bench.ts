// Unary SayHello on every RPC protocol: oneport's unified port against bare Node peers, interleaved.
// Server pinned to one core, h2load on the other; medians of BENCH_ROUNDS rounds of BENCH_SECONDS each,
// then paired rounds for the Connect JSON ratios (BENCH_PAIRED_ROUNDS per position, 6; 0 = none).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ExampleService, HelloRequestSchema } from "../../src/gen/example/example_pb.js";
import { ensureTools, h2load, median, pairedRatio, startChild, type LoadResult } from "./load.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const only = process.env.BENCH_ONLY;
const here = new URL(".", import.meta.url).pathname;

ensureTools();
const dir = mkdtempSync(join(tmpdir(), "oneport-bench-"));
const grpcBody = join(dir, "grpc.bin");
const jsonBody = join(dir, "hello.json");
const msg = toBinary(HelloRequestSchema, create(HelloRequestSchema, { name: "Bob" }));
writeFileSync(grpcBody, Buffer.concat([Buffer.from([0, 0, 0, 0, msg.length]), msg]));
writeFileSync(jsonBody, JSON.stringify({ name: "Bob" }));

const serverDefs: Record<string, [string, ...string[]]> = {
  oneport: ["oneport.ts"],
  "connect-node h2": ["connect-node.ts", "h2"],
  "connect-node h1": ["connect-node.ts", "h1"],
  "grpc-js": ["grpc-js.ts"],
  "raw node:http2": ["raw-h2.ts"],
  "raw node:http": ["raw-h1.ts"],
};

interface Scenario {
  name: string;
  h1: boolean;
  headers: string[];
  body: string;
  targets: string[];
  baseline: string;
  /** A real client for the protocol, to check that every server answers correctly before loading it. */
  transport: (url: string) => Transport;
}
const grpcH = ["content-type: application/grpc", "te: trailers"];
const webH = ["content-type: application/grpc-web+proto", "x-grpc-web: 1"];
const jsonH = ["content-type: application/json", "connect-protocol-version: 1"];
const scenarios: Scenario[] = ([
  { name: "gRPC unary, HTTP/2", h1: false, headers: grpcH, body: grpcBody, targets: ["oneport", "grpc-js", "connect-node h2", "raw node:http2"], baseline: "connect-node h2", transport: (u: string) => createGrpcTransport({ baseUrl: u }) },
  { name: "Connect JSON unary, HTTP/2", h1: false, headers: jsonH, body: jsonBody, targets: ["oneport", "connect-node h2", "raw node:http2"], baseline: "connect-node h2", transport: (u: string) => createConnectTransport({ baseUrl: u, httpVersion: "2", useBinaryFormat: false }) },
  { name: "Connect JSON unary, HTTP/1.1", h1: true, headers: jsonH, body: jsonBody, targets: ["oneport", "connect-node h1", "raw node:http"], baseline: "connect-node h1", transport: (u: string) => createConnectTransport({ baseUrl: u, httpVersion: "1.1", useBinaryFormat: false }) },
  { name: "gRPC-Web unary, HTTP/1.1", h1: true, headers: webH, body: grpcBody, targets: ["oneport", "connect-node h1"], baseline: "connect-node h1", transport: (u: string) => createGrpcWebTransport({ baseUrl: u, httpVersion: "1.1" }) },
  { name: "gRPC-Web unary, HTTP/2", h1: false, headers: webH, body: grpcBody, targets: ["oneport", "connect-node h2"], baseline: "connect-node h2", transport: (u: string) => createGrpcWebTransport({ baseUrl: u, httpVersion: "2" }) },
] as Scenario[]).filter((s) => !only || s.name.toLowerCase().includes(only.toLowerCase()));

const needed = [...new Set(scenarios.flatMap((s) => s.targets))];
const servers = new Map<string, { pid: number; port: number; kill: () => void }>();
try {
  for (const name of needed) {
    const [script, ...args] = serverDefs[name];
    const { proc, port } = await startChild(join(here, "servers", script), args);
    servers.set(name, { pid: proc.pid!, port, kill: () => proc.kill("SIGTERM") });
  }
  // h2load counts any HTTP 200 as success, even with grpc-status != 0: check answers with real clients.
  for (const s of scenarios) {
    for (const t of s.targets) {
      if (s.name.startsWith("gRPC unary") && t === "raw node:http2") continue; // answers only the bench's request
      const client = createClient(ExampleService, s.transport(`http://127.0.0.1:${servers.get(t)!.port}`));
      const res = await client.sayHello({ name: "Bob" });
      if (res.message !== "Hello, Bob") throw new Error(`${t} answered ${s.name} wrongly: ${res.message}`);
    }
  }
  const url = (t: string) => `http://127.0.0.1:${servers.get(t)!.port}/example.ExampleService/SayHello`;
  const run = (s: Scenario, t: string, secs: number) => h2load(servers.get(t)!.pid, url(t), { h1: s.h1, headers: s.headers, body: s.body, seconds: secs });
  for (const s of scenarios) for (const t of s.targets) run(s, t, 1); // warm-up (JIT), discarded

  const results = new Map<string, LoadResult[]>();
  for (let r = 0; r < rounds; r++) {
    for (const s of scenarios) {
      // Rotate the order each round so no server always runs first or last.
      const order = s.targets.map((_, i) => s.targets[(i + r) % s.targets.length]);
      for (const t of order) {
        const res = run(s, t, seconds);
        if (res.succeeded !== res.done) throw new Error(`${t} failed ${res.done - res.succeeded} of ${res.done} requests in ${s.name}`);
        const key = `${s.name}|${t}`;
        results.set(key, [...(results.get(key) ?? []), res]);
      }
    }
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }

  console.log(`\nUnary SayHello; server on one core, h2load on another; medians of ${rounds} interleaved rounds of ${seconds}s.`);
  for (const s of scenarios) {
    console.log(`\n${s.name}`);
    console.log(`  ${"server".padEnd(18)} ${"req/s".padStart(9)} ${"mean ms".padStart(8)} ${"CPU µs/call".padStart(12)} ${"x " + s.baseline}`);
    const med = (t: string, f: (x: LoadResult) => number) => median(results.get(`${s.name}|${t}`)!.map(f));
    const base = med(s.baseline, (x) => x.reqPerSec);
    for (const t of s.targets) {
      const rps = med(t, (x) => x.reqPerSec);
      const extra = s.targets.includes("grpc-js") && t === "oneport" ? `  (x grpc-js ${(rps / med("grpc-js", (x) => x.reqPerSec)).toFixed(2)})` : "";
      console.log(`  ${t.padEnd(18)} ${rps.toFixed(0).padStart(9)} ${med(t, (x) => x.meanMs).toFixed(2).padStart(8)} ${med(t, (x) => x.cpuUsPerCall).toFixed(1).padStart(12)} ${(rps / base).toFixed(2).padStart(6)}${extra}`);
    }
  }
  // Paired rounds for the Connect JSON ratios (see pairedRounds in load.ts): both servers loaded at
  // once, so that the machine's swings cancel; read in both positions and combined. The same two
  // processes serve both readings, so a per-process residue (1-3% in an A/A pair, see paired.ts) stays.
  const paired = Number(process.env.BENCH_PAIRED_ROUNDS ?? 6);
  for (const s of paired > 0 ? scenarios.filter((x) => x.name.startsWith("Connect JSON")) : []) {
    const shape = s.h1 ? ["--h1", "-c", "16", "-m", "1"] : ["-c", "4", "-m", "16"];
    const argv = (t: string, secs: number) => ["h2load", "-D", String(secs), "-d", s.body, ...shape, ...s.headers.flatMap((h) => ["-H", h]), url(t)];
    const pids = { a: servers.get(s.baseline)!.pid!, b: servers.get("oneport")!.pid! };
    const { ratio } = await pairedRatio(pids, (who, secs) => argv(who === "a" ? s.baseline : "oneport", secs), paired, seconds);
    const times = 1 / ratio; // baseline CPU per call / oneport's
    console.log(`\n${s.name}, paired (both loaded at once, ${paired} rounds in each position): oneport does ${times.toFixed(2)}x the calls of ${s.baseline} per CPU second`);
  }
} finally {
  for (const s of servers.values()) s.kill();
  rmSync(dir, { recursive: true, force: true });
}
