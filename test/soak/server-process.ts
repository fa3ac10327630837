// The server under soak as a child process (`node --import tsx src/main.ts`, what `npx tsx` runs),
// so that its memory is measured from outside and nothing of the load generator counts in it.
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { inspectorUrl } from "./inspector.js";

/** One log line of the server at warn level or above. */
export interface ServerLogLine {
  level: number;
  msg: string;
  line: string;
}

/** A running server process. */
export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  /** Log lines at warn (40) and above, as printed. */
  readonly logs: ServerLogLine[];
  /** The V8 inspector's WebSocket address (the server runs with --inspect=127.0.0.1:0). */
  inspectorUrl: string;
  /** Sends SIGTERM and resolves with the exit code once it stopped (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
}

/** A free TCP port on 127.0.0.1 (bound and released; the server binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts `src/main.ts` with the given flags and env and resolves once /readyz answers 200. */
export async function startServerProcess(args: string[], env: NodeJS.ProcessEnv, readyTimeoutMs = 60_000): Promise<ServerProcess> {
  const port = await freePort();
  // The level is warn so that the per-call info lines cost neither side CPU; readiness is polled instead.
  // The inspector (loopback, random port) lets the soak run a GC and read the heap from outside.
  const child = spawn(process.execPath, ["--inspect=127.0.0.1:0", "--import", "tsx", "src/main.ts", "--port", String(port), "--log-level", "warn", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: ServerLogLine[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      const e = JSON.parse(line) as { level?: number; msg?: string };
      if ((e.level ?? 0) >= 40) logs.push({ level: e.level ?? 0, msg: e.msg ?? "", line });
    } catch {
      logs.push({ level: 40, msg: "not a log line", line });
    }
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const start = Date.now();
  let inspector: string | undefined;
  for (;;) {
    inspector ??= inspectorUrl(stderr);
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} before it was ready:\n${stderr}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200 && inspector) break;
    } catch {
      // not listening yet
    }
    if (Date.now() - start > readyTimeoutMs) {
      child.kill("SIGKILL");
      throw new Error(`the server was not ready within ${readyTimeoutMs} ms:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child,
    pid: child.pid!,
    port,
    url,
    logs,
    inspectorUrl: inspector!,
    async stop(graceMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Resident set size of a process in bytes, from /proc/PID/status (VmRSS). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Heap figures from the server's Prometheus /metrics, when it serves them (undefined otherwise). */
export async function metricsHeap(url: string): Promise<{ heapUsed?: number; processHeap?: number } | undefined> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
    if (res.status !== 200) {
      await res.body?.cancel();
      return undefined;
    }
    return parseHeapMetrics(await res.text());
  } catch {
    return undefined;
  }
}

/** Picks nodejs_heap_size_used_bytes and process_heap_bytes out of a Prometheus text exposition. */
export function parseHeapMetrics(text: string): { heapUsed?: number; processHeap?: number } | undefined {
  const value = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)`, "m").exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const out = { heapUsed: value("nodejs_heap_size_used_bytes"), processHeap: value("process_heap_bytes") };
  return out.heapUsed === undefined && out.processHeap === undefined ? undefined : out;
}
