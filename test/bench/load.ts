// Drives h2load (pinned to one core) and reads a server's CPU time: shared by the benches.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

/** One h2load run's figures. */
export interface LoadResult {
  reqPerSec: number;
  done: number;
  succeeded: number;
  /** Mean latency per request, in ms. */
  meanMs: number;
  /** Server CPU per completed request, in µs. */
  cpuUsPerCall: number;
}

/** Installs h2load (Debian nghttp2-client) if missing, through .ci/install-bench.sh. */
export function ensureTools(): void {
  if (spawnSync("sh", ["-c", "command -v h2load && command -v taskset"]).status === 0) return;
  execFileSync("bash", [new URL("../../.ci/install-bench.sh", import.meta.url).pathname], { stdio: "inherit" });
}

/** Cores: the server gets the last one, the load generator the first (both 0 on a 1-core box). */
export const serverCore = String(Math.max(0, (globalThis.navigator?.hardwareConcurrency ?? 2) - 1));
export const loadCore = "0";

/** A server child process pinned to the server core; resolves with its port once it listens. */
export async function startChild(script: string, args: string[] = []): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn("taskset", ["-c", serverCore, process.execPath, "--import", "tsx", script, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: proc.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    proc.once("exit", (code) => reject(new Error(`${script} exited (${code}) before listening`)));
    lines.on("line", (l) => {
      const m = /^PORT (\d+)$/.exec(l);
      if (m) resolve(Number(m[1]));
    });
  });
  return { proc, port };
}

/** User+system CPU seconds a process has used so far (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Runs h2load pinned to the load core for `seconds` against a server process and returns its figures. */
export function h2load(pid: number, url: string, opts: { h1: boolean; headers: string[]; body: string; seconds: number }): LoadResult {
  const args = ["-c", loadCore, "h2load", "-D", String(opts.seconds), "-d", opts.body];
  args.push(...(opts.h1 ? ["--h1", "-c", "32", "-m", "1"] : ["-c", "8", "-m", "16"]));
  for (const h of opts.headers) args.push("-H", h);
  args.push(url);
  const cpu0 = cpuSeconds(pid);
  const out = execFileSync("taskset", args, { encoding: "utf8", maxBuffer: 1 << 24 });
  const cpu = cpuSeconds(pid) - cpu0;
  const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded/.exec(out);
  const lat = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out);
  if (!rps || !req || !lat) throw new Error(`cannot read h2load output:\n${out}`);
  const done = Number(req[3]);
  return { reqPerSec: Number(rps[1]), done, succeeded: Number(req[4]), meanMs: toMs(lat[3]), cpuUsPerCall: done > 0 ? (cpu * 1e6) / done : NaN };
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v);
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "s" ? n * 1000 : n;
}

/** The median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Runs a load generator (argv after taskset) pinned to the load core; resolves with the requests it completed. */
export function driveAsync(argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn("taskset", ["-c", loadCore, ...argv], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout!.on("data", (c: Buffer) => (out += c));
    p.once("error", reject);
    // "close", not "exit": a process may exit before its output has all been read.
    p.once("close", () => {
      const n = /(\d+) succeeded/.exec(out)?.[1] ?? /(\d+) requests in/.exec(out)?.[1];
      if (n === undefined) reject(new Error(`cannot read the load generator's output:\n${out}`));
      else if (/Non-2xx/.test(out)) reject(new Error(`the load generator saw errors:\n${out}`));
      else resolve(Number(n));
    });
  });
}

/**
 * CPU per call of server b relative to server a (b/a), from paired rounds in both positions (a's
 * load started first in even rounds, then b's): the geometric mean of the two medians, so what a
 * position adds cancels. With each server's median µs per call over all rounds.
 */
export async function pairedRatio(pids: { a: number; b: number }, load: (who: "a" | "b", seconds: number) => string[], rounds: number, seconds: number): Promise<{ ratio: number; aUs: number; bUs: number }> {
  const [a1, b1] = await pairedRounds([pids.a, pids.b], (i, secs) => load(i === 0 ? "a" : "b", secs), rounds, seconds);
  const [b2, a2] = await pairedRounds([pids.b, pids.a], (i, secs) => load(i === 0 ? "b" : "a", secs), rounds, seconds);
  const r1 = median(b1.map((x, i) => x / a1[i]));
  const r2 = median(b2.map((x, i) => x / a2[i]));
  return { ratio: Math.sqrt(r1 * r2), aUs: median([...a1, ...a2]), bUs: median([...b1, ...b2]) };
}

/**
 * Paired rounds: two servers (on the server core) loaded AT THE SAME TIME, each by its own load
 * generator, which start in alternating order. Returns each round's CPU µs per request of both.
 * Whatever the machine does during a round hits both alike, so the per-round ratio is steady where
 * sequential rounds swing (±20% on a shared 2-core VM); an A/A pair reads 1.00-1.03.
 */
export async function pairedRounds(pids: [number, number], load: (i: 0 | 1, seconds: number) => string[], rounds: number, seconds: number, onRound?: (r: number, a: number, b: number) => void): Promise<[number[], number[]]> {
  await Promise.all([driveAsync(load(0, 1)), driveAsync(load(1, 1))]); // warm-up (JIT), discarded
  const cpu: [number[], number[]] = [[], []];
  for (let r = 0; r < rounds; r++) {
    const before = pids.map(cpuSeconds);
    const runs: Promise<number>[] = [];
    for (const i of r % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) runs[i] = driveAsync(load(i, seconds));
    const done = await Promise.all(runs);
    pids.forEach((pid, i) => cpu[i].push(((cpuSeconds(pid) - before[i]) * 1e6) / Math.max(1, done[i])));
    onRound?.(r, cpu[0][r], cpu[1][r]);
  }
  return cpu;
}
