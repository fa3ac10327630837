// REST GET /v1/hello/{name} on oneport's unified port against a bare node:http server that parses
// the URL and encodes the same JSON. Servers pinned to one core, wrk on the other; interleaved
// rounds in one run, medians. Target: oneport >= 0.85x the bare server's requests per second.
// Then paired rounds (both servers loaded at the same time, see pairedRounds in load.ts): the CPU
// ratio the machine's swings do not move, to read next to the sequential one.
//   npx tsx test/bench/rest.bench.ts        (BENCH_ROUNDS, BENCH_SECONDS, BENCH_PAIRED_ROUNDS (8; 0 = none))
import { execFileSync, spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cpuSeconds, loadCore, median, pairedRounds, serverCore, startChild } from "./load.js";

const serverDir = join(dirname(fileURLToPath(import.meta.url)), "servers");

await main();

interface Figures {
  reqPerSec: number;
  latencyMs: number;
  cpuUsPerCall: number;
}

function wrk(pid: number, url: string, seconds: number): Figures {
  const cpu0 = cpuSeconds(pid);
  const out = execFileSync("taskset", ["-c", loadCore, "wrk", "-t1", "-c32", `-d${seconds}s`, "--latency", url], { encoding: "utf8" });
  const cpu = cpuSeconds(pid) - cpu0;
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in/.exec(out);
  const lat = /Latency\s+([\d.]+)(us|ms|s)/.exec(out);
  if (!rps || !total || !lat) throw new Error(`cannot read wrk output:\n${out}`);
  if (/Non-2xx/.test(out)) throw new Error(`wrk saw errors against ${url}:\n${out}`);
  const ms = Number(lat[1]) * (lat[2] === "us" ? 0.001 : lat[2] === "s" ? 1000 : 1);
  return { reqPerSec: Number(rps[1]), latencyMs: ms, cpuUsPerCall: (cpu * 1e6) / Number(total[1]) };
}

async function check(port: number): Promise<void> {
  const body = await (await fetch(`http://127.0.0.1:${port}/v1/hello/Bob`)).text();
  if (body !== '{"message":"Hello, Bob"}') throw new Error(`unexpected answer: ${body}`);
}

async function main(): Promise<void> {
  if (spawnSync("sh", ["-c", "command -v wrk && command -v taskset"]).status !== 0) {
    execFileSync("bash", [new URL("../../.ci/install-bench.sh", import.meta.url).pathname], { stdio: "inherit" });
  }
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const seconds = Number(process.env.BENCH_SECONDS ?? 3);
  const servers = { oneport: await startChild(join(serverDir, "oneport.ts")), bare: await startChild(join(serverDir, "bare-rest.ts")) };
  try {
    for (const s of Object.values(servers)) {
      await check(s.port);
      wrk(s.proc.pid!, `http://127.0.0.1:${s.port}/v1/hello/Bob`, 1); // warm-up (JIT)
    }
    const results: Record<string, Figures[]> = { oneport: [], bare: [] };
    for (let r = 0; r < rounds; r++) {
      // Alternate which server goes first in a round.
      const order = r % 2 === 0 ? (["oneport", "bare"] as const) : (["bare", "oneport"] as const);
      for (const name of order) results[name].push(wrk(servers[name].proc.pid!, `http://127.0.0.1:${servers[name].port}/v1/hello/Bob`, seconds));
    }
    const med = (name: string, k: keyof Figures) => median(results[name].map((x) => x[k]));
    console.log(`REST GET /v1/hello/{name}, HTTP/1.1, wrk -c32, ${rounds} interleaved rounds x ${seconds}s, server on core ${serverCore}`);
    console.log("server              req/s   latency ms   CPU µs/call");
    for (const name of ["bare", "oneport"]) {
      console.log(`${(name === "bare" ? "bare node:http" : "oneport REST").padEnd(16)} ${med(name, "reqPerSec").toFixed(0).padStart(8)} ${med(name, "latencyMs").toFixed(3).padStart(12)} ${med(name, "cpuUsPerCall").toFixed(1).padStart(13)}`);
    }
    const ratio = med("oneport", "reqPerSec") / med("bare", "reqPerSec");
    console.log(`ratio oneport/bare: ${ratio.toFixed(3)} (target >= 0.85) ${ratio >= 0.85 ? "OK" : "BELOW TARGET"}`);
    const paired = Number(process.env.BENCH_PAIRED_ROUNDS ?? 8);
    if (paired > 0) {
      const both = [servers.bare, servers.oneport];
      const cpu = await pairedRounds([both[0].proc.pid!, both[1].proc.pid!], (i, secs) => ["wrk", "-t1", "-c16", `-d${secs}s`, `http://127.0.0.1:${both[i].port}/v1/hello/Bob`], paired, seconds);
      const cpuRatio = median(cpu[0].map((bare, i) => bare / cpu[1][i]));
      console.log(`paired, ${paired} rounds x ${seconds}s (both loaded at once, wrk -c16 each): CPU per call bare ${median(cpu[0]).toFixed(1)} µs, oneport ${median(cpu[1]).toFixed(1)} µs; requests per CPU second, oneport/bare ${cpuRatio.toFixed(3)} (median of per-round ratios; an A/A pair reads 0.97-1.00)`);
    }
  } finally {
    for (const s of Object.values(servers)) s.proc.kill("SIGTERM");
  }
}
