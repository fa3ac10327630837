// Latency under attack: a probe client's p50/p99 (sequential gRPC SayHello over one h2c connection)
// with no attack and during each attack, in interleaved rounds (baseline, then every attack, per
// round), each attack from its own child process against a server child with the default limits.
// Reported as ratios to the baseline of the same round. Env: BENCH_ROUNDS (3), BENCH_SECONDS (3),
// BENCH_ONLY (comma-separated attack names), BENCH_IDLE_CONNS (5000), BENCH_LIMITS (server limits, JSON).
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { rssBytes, spawnTs, type Child } from "../attack/peers/spawn.js";
import { cpuSeconds, median } from "./load.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const idleConns = Number(process.env.BENCH_IDLE_CONNS ?? 5000);
const peer = (f: string) => fileURLToPath(new URL(`../attack/peers/${f}`, import.meta.url));

type Attack = { name: string; start: (port: number) => Promise<Child | undefined> };
// Attackers connect from 127.0.0.2 (one address, as one attacking host) or from 127.0.0.2-251 in turn
// ("spread", many hosts: no per-address cool-down holds them off), the probe from 127.0.0.1.
const flood = (kind: string, conns = 1, from = "127.0.0.2"): Attack => ({
  name: from === "spread" ? `${kind}-spread` : kind,
  start: async (port: number) => {
    const c = spawnTs(peer("flood-attacker.ts"), { ATTACK_PORT: String(port), ATTACK_KIND: kind, ATTACK_CONNS: String(conns), ATTACK_FROM: from });
    await c.line((l) => "attacking" in l);
    return c;
  },
});
const attacks: Attack[] = [
  { name: "none", start: async () => undefined },
  flood("rapid-reset"),
  flood("rapid-reset", 1, "spread"),
  flood("settings"),
  flood("ping"),
  flood("slowloris", 200),
  flood("ws-slow", 20),
  {
    name: `idle x${idleConns}`,
    start: async (port: number) => {
      const c = spawnTs(peer("idle-attacker.ts"), { ATTACK_PORT: String(port), ATTACK_CONNS: String(idleConns) });
      await c.line((l) => "open" in l);
      return c;
    },
  },
].filter((a) => a.name === "none" || !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(",").some((o) => a.name.startsWith(o)));

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** Sequential calls for `secs`: latencies in ms, and the count of failed calls. */
async function probeFor(url: string, secs: number): Promise<{ lat: number[]; failed: number }> {
  const client = createClient(ExampleService, createGrpcTransport({ baseUrl: url }));
  await client.sayHello({ name: "warm" });
  const lat: number[] = [];
  let failed = 0;
  const end = performance.now() + secs * 1000;
  while (performance.now() < end) {
    const t = performance.now();
    try {
      await client.sayHello({ name: "probe" }, { timeoutMs: 30_000 });
      lat.push(performance.now() - t);
    } catch {
      failed++;
    }
  }
  return { lat, failed };
}

// BENCH_LIMITS: JSON of server limits to try instead of the defaults, e.g. '{"floodCooldownMs":0}'.
const server = spawnTs(peer("server.ts"), { ATTACK_LIMITS: JSON.stringify({ maxConnections: idleConns + 1000, ...JSON.parse(process.env.BENCH_LIMITS ?? "{}") }) });
const { port, pid } = (await server.line((l) => typeof l.port === "number")) as { port: number; pid: number };
const url = `http://127.0.0.1:${port}`;
const results = new Map<string, { p50: number[]; p99: number[]; r50: number[]; r99: number[]; failed: number; calls: number; cpu: number[]; rss: number[] }>();

for (let r = 0; r < rounds; r++) {
  let base = { p50: 0, p99: 0 };
  for (const a of attacks) {
    const attacker = await a.start(port);
    const cpu0 = cpuSeconds(pid);
    const { lat, failed } = await probeFor(url, seconds);
    const cpu = cpuSeconds(pid) - cpu0;
    const rss = rssBytes(pid);
    await attacker?.stop();
    const p50 = pct(lat, 50);
    const p99 = pct(lat, 99);
    if (a.name === "none") base = { p50, p99 };
    const e = results.get(a.name) ?? { p50: [], p99: [], r50: [], r99: [], failed: 0, calls: 0, cpu: [], rss: [] };
    e.p50.push(p50);
    e.p99.push(p99);
    e.r50.push(p50 / base.p50);
    e.r99.push(p99 / base.p99);
    e.failed += failed;
    e.calls += lat.length + failed;
    e.cpu.push(cpu / seconds);
    e.rss.push(rss);
    results.set(a.name, e);
    console.error(`round ${r + 1} ${a.name}: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, ${failed} failed, server CPU ${(cpu / seconds * 100).toFixed(0)}%`);
  }
}
await server.stop();

console.log(`\nProbe latency under attack (median of ${rounds} interleaved rounds of ${seconds} s; ratios to the no-attack baseline of the same round)`);
console.log("attack".padEnd(14) + "p50 ms".padStart(9) + "p99 ms".padStart(9) + "p50 x".padStart(8) + "p99 x".padStart(8) + "failed".padStart(9) + "server CPU".padStart(12) + "RSS MB".padStart(9));
for (const [name, e] of results) {
  console.log(
    name.padEnd(14) + median(e.p50).toFixed(2).padStart(9) + median(e.p99).toFixed(2).padStart(9) + median(e.r50).toFixed(2).padStart(8) + median(e.r99).toFixed(2).padStart(8) +
      `${e.failed}/${e.calls}`.padStart(9) + `${(median(e.cpu) * 100).toFixed(0)}%`.padStart(12) + (median(e.rss) / 1024 / 1024).toFixed(0).padStart(9),
  );
}
process.exit(0);
