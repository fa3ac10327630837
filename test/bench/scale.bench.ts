// Scaling: (1) unary throughput of `--workers 1` against `--workers N` on gRPC and REST, as the
// ratio N-workers / 1-worker (target >= 0.8 x N where the machine has cores to spare for h2load);
// (2) chat fan-out latency to 1k subscribers spread over 3 instances sharing Redis, against the
// same subscribers on one instance with the in-memory broker. Interleaved rounds, medians.
//   npx tsx test/bench/scale.bench.ts   (env: BENCH_ROUNDS, BENCH_SECONDS, BENCH_WORKERS, BENCH_SUBSCRIBERS,
//                                         BENCH_SCALE_ONLY=throughput|fanout)
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { HelloRequestSchema } from "../../src/gen/example/example_pb.js";
import { OneportProcess } from "../scale/support/proc.js";
import { freePort, TestRedis } from "../scale/support/redis.js";
import { fanOut } from "./scale-fanout.js";
import { ensureTools, loadCore, median } from "./load.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
/** "throughput" or "fanout" runs one half only. */
const only = process.env.BENCH_SCALE_ONLY;
const cores = availableParallelism();
// h2load gets core 0; the cluster gets the rest. With 2 cores or fewer there is nothing to spare.
const spare = cores >= 3;
const workers = Number(process.env.BENCH_WORKERS ?? Math.max(2, cores - 1));
const serverCpus = spare ? `1-${cores - 1}` : `0-${cores - 1}`;

ensureTools();
const dir = mkdtempSync(join(tmpdir(), "oneport-scale-"));
const grpcBody = join(dir, "grpc.bin");
const msg = toBinary(HelloRequestSchema, create(HelloRequestSchema, { name: "Bob" }));
writeFileSync(grpcBody, Buffer.concat([Buffer.from([0, 0, 0, 0, msg.length]), msg]));

/** One h2load run: requests per second, after checking that every request succeeded. */
function load(url: string, args: string[]): number {
  const out = execFileSync("taskset", ["-c", loadCore, "h2load", "-D", String(seconds), ...args, url], { encoding: "utf8", maxBuffer: 1 << 24 });
  const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded/.exec(out);
  const codes = /status codes: (\d+) 2xx/.exec(out);
  if (!rps || !req || !codes) throw new Error(`cannot read h2load output:\n${out}`);
  if (req[3] !== req[4] || Number(codes[1]) < Number(req[3])) throw new Error(`failed requests against ${url}:\n${out}`);
  return Number(rps[1]);
}

const scenarios = {
  "gRPC unary (h2c)": (port: number) => load(`http://127.0.0.1:${port}/example.ExampleService/SayHello`, ["-c", "16", "-m", "16", "-d", grpcBody, "-H", "content-type: application/grpc", "-H", "te: trailers"]),
  "REST GET /v1/hello/{name} (HTTP/1.1)": (port: number) => load(`http://127.0.0.1:${port}/v1/hello/Bob`, ["--h1", "-c", "32", "-m", "1"]),
};

/** Starts the CLI on a port picked here (logs stay at warn: h2load would flood the pipe) and waits until it answers. */
async function startOneport(args: string[], env: NodeJS.ProcessEnv): Promise<{ proc: OneportProcess; port: number }> {
  const port = await freePort();
  const proc = OneportProcess.start([...args, "--port", String(port), "--log-level", "warn"], { ...env, LOG_LEVEL: "warn" });
  for (let ok = 0; ok < 8; ) {
    if (proc.proc.exitCode !== null) throw new Error(`oneport exited: ${proc.stderr.join("\n")}`);
    // Several answers in a row: with workers, each new connection may reach another worker.
    ok = (await ready(port)) ? ok + 1 : 0;
    if (ok === 0) await new Promise((r) => setTimeout(r, 200));
  }
  return { proc, port };
}

/** True when the port answers SayHello and reports the chat SERVING (its broker reached Redis). */
async function ready(port: number): Promise<boolean> {
  try {
    if (!(await fetch(`http://127.0.0.1:${port}/v1/hello/warm`)).ok) return false;
    const res = await fetch(`http://127.0.0.1:${port}/grpc.health.v1.Health/Check`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"service":"chat.v1.ChatService"}' });
    return ((await res.json()) as { status?: string }).status === "SERVING";
  } catch {
    return false;
  }
}

/** A cluster of `n` workers, moved onto the server cores. */
async function startCluster(n: number): Promise<{ proc: OneportProcess; port: number }> {
  const c = await startOneport(["--workers", String(n)], {});
  execFileSync("sh", ["-c", `for p in $(pgrep -P ${c.proc.proc.pid}) ${c.proc.proc.pid}; do taskset -a -p -c ${serverCpus} $p >/dev/null; done`]);
  return c;
}

const stops: (() => Promise<unknown>)[] = [];
try {
  console.log(`cores: ${cores}; h2load on core ${loadCore}; servers on cores ${serverCpus}; N = ${workers}${spare ? "" : " (no spare core for the load generator: the ratio here is a floor, not the target's setting)"}`);
  if (only !== "fanout") await throughput();
  if (only !== "throughput") await fanOutRounds();
} finally {
  for (const s of stops.reverse()) await s();
  rmSync(dir, { recursive: true, force: true });
}
// Idle HTTP/2 sessions of the fan-out clients would keep the process alive for a while.
process.exit(0);

async function throughput(): Promise<void> {
  const one = await startCluster(1);
  const many = await startCluster(workers);
  stops.push(() => one.proc.stop(), () => many.proc.stop());
  const results = new Map<string, number[]>();
  for (const [name, run] of Object.entries(scenarios)) {
    run(one.port);
    run(many.port); // warm-up (JIT), discarded
    for (let r = 0; r < rounds; r++) {
      for (const [label, c] of r % 2 ? [["N", many], ["1", one]] as const : [["1", one], ["N", many]] as const) {
        const key = `${name}|${label}`;
        results.set(key, [...(results.get(key) ?? []), run(c.port)]);
      }
    }
  }
  console.log(`\nUnary throughput, --workers 1 vs --workers ${workers}; medians of ${rounds} interleaved rounds of ${seconds}s`);
  console.log(`  ${"scenario".padEnd(38)} ${"1 worker".padStart(10)} ${`${workers} workers`.padStart(10)} ${"ratio".padStart(6)} ${"of N".padStart(6)}`);
  for (const name of Object.keys(scenarios)) {
    const a = median(results.get(`${name}|1`)!);
    const b = median(results.get(`${name}|N`)!);
    console.log(`  ${name.padEnd(38)} ${a.toFixed(0).padStart(10)} ${b.toFixed(0).padStart(10)} ${(b / a).toFixed(2).padStart(6)} ${(b / a / workers).toFixed(2).padStart(6)}`);
  }
  await Promise.all(stops.splice(0).map((s) => s()));
}

async function fanOutRounds(): Promise<void> {
  // Fan-out: 3 instances on Redis against one instance in memory, alternating.
  const subscribers = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
  const redis = await TestRedis.start();
  stops.push(() => redis.stop());
  const env = { CHAT_TOKENS: "alice:alice-token" };
  const redisInstances = await Promise.all([0, 1, 2].map(() => startOneport([], { ...env, REDIS_URL: redis.url })));
  const memory = await startOneport([], { ...env, REDIS_URL: "" });
  for (const p of [...redisInstances, memory]) stops.push(() => p.proc.stop());
  const redisPorts = redisInstances.map((p) => p.port);
  const memoryPort = memory.port;
  const lat = { redis: [] as number[][], memory: [] as number[][] };
  for (let r = 0; r < Math.max(2, rounds - 1); r++) {
    for (const kind of r % 2 ? (["memory", "redis"] as const) : (["redis", "memory"] as const)) {
      const ports = kind === "redis" ? redisPorts : [memoryPort];
      try {
        lat[kind].push(await fanOut({ ports, subscribers, messages: 40, room: `bench-${kind}-${r}` }));
      } catch (e) {
        for (const p of [...redisInstances, memory]) console.error(p.proc.lines.slice(-5).map((l) => JSON.stringify(l)).join("\n"));
        throw e;
      }
    }
  }
  const pct = (xs: number[], q: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  };
  console.log(`\nChat fan-out: ${subscribers} subscribers (Connect server streams over HTTP/2), 40 messages per round, delivery latency in ms`);
  console.log(`  ${"setup".padEnd(40)} ${"p50".padStart(7)} ${"p99".padStart(7)}`);
  const row = (name: string, runs: number[][]) => {
    const p50 = median(runs.map((x) => pct(x, 0.5)));
    const p99 = median(runs.map((x) => pct(x, 0.99)));
    console.log(`  ${name.padEnd(40)} ${p50.toFixed(2).padStart(7)} ${p99.toFixed(2).padStart(7)}`);
    return { p50, p99 };
  };
  const m = row("1 instance, in-memory broker", lat.memory);
  const rd = row("3 instances, Redis broker", lat.redis);
  console.log(`  ratio Redis / memory: p50 x${(rd.p50 / m.p50).toFixed(2)}, p99 x${(rd.p99 / m.p99).toFixed(2)}`);
}
