// REST GET /v1/hello/{name} on oneport's unified port against a bare node:http server that parses
// the URL and encodes the same JSON (servers/bare-rest.ts), and against the same bare server doing
// the message work a transcoder must (protobuf-es messages and proto3 JSON: servers/bare-rest-pb.ts).
// Servers pinned to one core, wrk on the other; interleaved rounds in one run, medians.
// Target: oneport >= 0.85x the bare server's requests per second.
// Then paired rounds (both servers loaded at the same time, see pairedRounds in load.ts): the CPU
// ratio the machine's swings do not move, to read next to the sequential one.
//   npx tsx test/bench/rest.bench.ts        (BENCH_ROUNDS, BENCH_SECONDS, BENCH_PAIRED_ROUNDS per position (4; 0 = none))
import { execFileSync, spawnSync, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cpuSeconds, loadCore, median, pairedRatio, serverCore, startChild } from "./load.js";

const serverDir = join(dirname(fileURLToPath(import.meta.url)), "servers");

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

/** The servers of the bench, by name, with the file under servers/ and the label of its table row. */
const kinds = {
  bare: { file: "bare-rest.ts", label: "bare node:http" },
  "bare-pb": { file: "bare-rest-pb.ts", label: "bare + protobuf" },
  oneport: { file: "oneport.ts", label: "oneport REST" },
} as const;
type Kind = keyof typeof kinds;

async function main(): Promise<void> {
  if (spawnSync("sh", ["-c", "command -v wrk && command -v taskset"]).status !== 0) {
    execFileSync("bash", [new URL("../../.ci/install-bench.sh", import.meta.url).pathname], { stdio: "inherit" });
  }
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const seconds = Number(process.env.BENCH_SECONDS ?? 3);
  const names = Object.keys(kinds) as Kind[];
  const servers = Object.fromEntries(await Promise.all(names.map(async (k) => [k, await startChild(join(serverDir, kinds[k].file))] as const))) as Record<Kind, { proc: ChildProcess; port: number }>;
  const url = (k: Kind) => `http://127.0.0.1:${servers[k].port}/v1/hello/Bob`;
  try {
    for (const k of names) {
      await check(servers[k].port);
      wrk(servers[k].proc.pid!, url(k), 1); // warm-up (JIT)
    }
    const results = Object.fromEntries(names.map((k) => [k, [] as Figures[]])) as Record<Kind, Figures[]>;
    for (let r = 0; r < rounds; r++) {
      // Rotate which server goes first in a round.
      for (let i = 0; i < names.length; i++) {
        const k = names[(r + i) % names.length];
        results[k].push(wrk(servers[k].proc.pid!, url(k), seconds));
      }
    }
    const med = (k: Kind, f: keyof Figures) => median(results[k].map((x) => x[f]));
    console.log(`REST GET /v1/hello/{name}, HTTP/1.1, wrk -c32, ${rounds} interleaved rounds x ${seconds}s, server on core ${serverCore}`);
    console.log("server              req/s   latency ms   CPU µs/call");
    for (const k of names) {
      console.log(`${kinds[k].label.padEnd(16)} ${med(k, "reqPerSec").toFixed(0).padStart(8)} ${med(k, "latencyMs").toFixed(3).padStart(12)} ${med(k, "cpuUsPerCall").toFixed(1).padStart(13)}`);
    }
    const ratio = med("oneport", "reqPerSec") / med("bare", "reqPerSec");
    console.log(`ratio oneport/bare: ${ratio.toFixed(3)} (target >= 0.85) ${ratio >= 0.85 ? "OK" : "BELOW TARGET"}`);
    console.log(`ratio oneport/bare + protobuf (the same message work, without the Pipeline): ${(med("oneport", "reqPerSec") / med("bare-pb", "reqPerSec")).toFixed(3)}`);
    const paired = Number(process.env.BENCH_PAIRED_ROUNDS ?? 4);
    if (paired > 0) {
      for (const base of ["bare", "bare-pb"] as const) {
        const pids = { a: servers[base].proc.pid!, b: servers.oneport.proc.pid! };
        const p = await pairedRatio(pids, (who, secs) => ["wrk", "-t1", "-c16", `-d${secs}s`, url(who === "a" ? base : "oneport")], paired, seconds);
        console.log(`paired with ${kinds[base].label}, ${paired} rounds x ${seconds}s in each position (both loaded at once, wrk -c16 each): CPU per call ${p.aUs.toFixed(1)} µs against oneport's ${p.bUs.toFixed(1)} µs; requests per CPU second, oneport/${base} ${(1 / p.ratio).toFixed(3)} (both positions combined; an A/A pair reads 0.97-1.03)`);
      }
    }
  } finally {
    for (const k of names) servers[k].proc.kill("SIGTERM");
  }
}

await main();
