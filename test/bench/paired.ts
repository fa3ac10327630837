// Paired A/B of two bench servers, for changes of a few percent: both servers run AT THE SAME TIME on
// the server core, each under its own load generator on the load core, and each round's ratio of
// their CPU per request is read. Whatever the machine does during a round (other tenants, frequency)
// hits both alike; sequential rounds here swing ±20%, while an A/A pair (the same server twice) reads
// 1.00-1.03 per round as the median. That residue comes with the PROCESS, not its position: two
// oneport processes paired in both pid orders read second/first 1.010 and 0.983 (the same one ~1.3%
// dearer either way), so swapping positions over the same processes does not cancel it. Run both
// orders (A B, then B A: fresh processes each time) and take sqrt(ratio1 / ratio2) as B's cost
// relative to A; read anything within ~3% as no difference.
//
//   npx tsx test/bench/paired.ts [--load connect-h2|connect-h1|rest] [--path /healthz] [--rounds 8] [--seconds 3] A.ts B.ts
//
// A and B print "PORT n" once listening (as test/bench/servers/*.ts do). To compare with an older
// revision: `git worktree add /tmp/base REV && ln -s "$PWD/node_modules" /tmp/base/`, then pass
// /tmp/base/test/bench/servers/oneport.ts and test/bench/servers/oneport.ts. The REST baseline is
// test/bench/servers/bare-rest.ts (it also answers /healthz, to compare the server's front alone).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ensureTools, median, pairedRounds, startChild } from "./load.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { load: { type: "string", default: "connect-h2" }, path: { type: "string", default: "/v1/hello/Bob" }, rounds: { type: "string", default: "8" }, seconds: { type: "string", default: "3" } },
});
const loads: Record<string, (port: number, secs: number, body: string) => string[]> = {
  // Fewer connections than rpc.bench.ts: two servers share the core.
  "connect-h2": (port, secs, body) => ["h2load", "-D", String(secs), "-d", body, "-c", "4", "-m", "16", ...connectHeaders, `http://127.0.0.1:${port}/example.ExampleService/SayHello`],
  "connect-h1": (port, secs, body) => ["h2load", "-D", String(secs), "-d", body, "--h1", "-c", "16", "-m", "1", ...connectHeaders, `http://127.0.0.1:${port}/example.ExampleService/SayHello`],
  rest: (port, secs) => ["wrk", "-t1", "-c16", `-d${secs}s`, `http://127.0.0.1:${port}${values.path}`],
};
const connectHeaders = ["-H", "content-type: application/json", "-H", "connect-protocol-version: 1"];
const load = loads[values.load!];
if (positionals.length !== 2 || load === undefined) {
  console.error(`usage: paired.ts [--load ${Object.keys(loads).join("|")}] [--path P (rest)] [--rounds N] [--seconds S] A.ts B.ts`);
  process.exit(2);
}
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);

ensureTools();
const dir = mkdtempSync(join(tmpdir(), "oneport-paired-"));
const body = join(dir, "hello.json");
writeFileSync(body, JSON.stringify({ name: "Bob" }));
const servers = await Promise.all(positionals.map((s) => startChild(s)));
try {
  const cpu = await pairedRounds([servers[0].proc.pid!, servers[1].proc.pid!], (i, secs) => load(servers[i].port, secs, body), rounds, seconds, (r, a, b) =>
    console.log(`round ${r + 1}/${rounds}: A ${a.toFixed(1)} µs/request, B ${b.toFixed(1)} µs/request, B/A ${(b / a).toFixed(3)}`),
  );
  const ratio = median(cpu[1].map((b, i) => b / cpu[0][i]));
  console.log(`\n${values.load}: A ${positionals[0]} median ${median(cpu[0]).toFixed(1)} µs/request; B ${positionals[1]} median ${median(cpu[1]).toFixed(1)} µs/request`);
  console.log(`B/A CPU per request, median of the per-round ratios: ${ratio.toFixed(3)} (${ratio < 1 ? `B ${((1 - ratio) * 100).toFixed(1)}% cheaper` : `B ${((ratio - 1) * 100).toFixed(1)}% dearer`})`);
} finally {
  servers.forEach((s) => s.proc.kill("SIGTERM"));
  rmSync(dir, { recursive: true, force: true });
}
