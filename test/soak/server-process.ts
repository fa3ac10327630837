// The server under soak as a child process (`node --import tsx src/main.ts`, what `npx tsx` runs),
// so that its memory is measured from outside and nothing of the load generator counts in it.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { get } from "node:http";
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

/** Figures of the server's Prometheus /metrics that a soak watches (absent ones are undefined). */
export interface ScrapedMetrics {
  heapUsed?: number;
  /** Open TCP connections, all transports (the scrape's own included). */
  connections?: number;
  /** The same by transport label (h1, h2, ...), for the report. */
  connectionsByTransport?: Record<string, number>;
  wsConnections?: number;
  wsStreams?: number;
  /**
   * Calls the server counted as INTERNAL, by protocol and method ("grpc example.ExampleService/Chatter"):
   * the soak's clients never ask for one, so each is a server fault (or a client's doing counted as one).
   */
  internal?: Record<string, number>;
}

/** Scrapes /metrics on a connection of its own (closed after), or undefined when not served. */
export function scrape(url: string): Promise<ScrapedMetrics | undefined> {
  return new Promise((resolve) => {
    const req = get(`${url}/metrics`, { agent: false, timeout: 5_000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve(res.statusCode === 200 ? parseMetrics(text) : undefined));
      res.on("error", () => resolve(undefined));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

/** Sums each watched metric over its labels in a Prometheus text exposition. */
export function parseMetrics(text: string): ScrapedMetrics {
  const sum = (name: string) => {
    let total: number | undefined;
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, "gm"))) total = (total ?? 0) + Number(m[1]);
    return total;
  };
  const internal: Record<string, number> = {};
  for (const m of text.matchAll(/^oneport_server_handled_total\{([^}]*)\} ([0-9.eE+-]+)$/gm)) {
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.code === "Internal" && Number(m[2]) > 0) internal[`${labels.protocol} ${labels.service}/${labels.method}`] = Number(m[2]);
  }
  const byTransport: Record<string, number> = {};
  for (const m of text.matchAll(/^oneport_connections_open\{transport="([^"]*)"\} ([0-9.eE+-]+)$/gm)) byTransport[m[1]] = Number(m[2]);
  return {
    connectionsByTransport: Object.keys(byTransport).length ? byTransport : undefined,
    heapUsed: sum("nodejs_heap_size_used_bytes"),
    connections: sum("oneport_connections_open"),
    wsConnections: sum("oneport_websocket_connections_open"),
    wsStreams: sum("oneport_websocket_streams_open"),
    internal,
  };
}

/** One TCP socket as `ss -tnp` shows it. */
export interface SocketRow {
  state: string;
  local: string;
  peer: string;
  pid?: number;
}

/** The TCP sockets to or from `port` in any connected state (undefined when `ss` is missing). */
export function socketTable(port: number): Promise<SocketRow[] | undefined> {
  return new Promise((resolve) => {
    execFile("ss", ["-tnpH", "state", "connected", `( sport = :${port} or dport = :${port} )`], (err, out) => {
      if (err) return resolve(undefined);
      resolve(
        out.trim().split("\n").filter(Boolean).map((line) => {
          const [state, , , local, peer] = line.trim().split(/\s+/);
          const pid = /pid=(\d+)/.exec(line)?.[1];
          return { state, local, peer, pid: pid === undefined ? undefined : Number(pid) };
        }),
      );
    });
  });
}

/**
 * The server's ends of connections that no client of `clientPid` holds open any more: after every
 * client closed, these are connections the server failed to let go of (CLOSE-WAIT and the like).
 */
export function serverHeld(rows: SocketRow[], port: number, clientPid: number, serverPid: number): SocketRow[] {
  const held = new Set(rows.filter((r) => r.pid === clientPid && r.state === "ESTAB").map((r) => r.local));
  // Sockets the server process still owns (TIME-WAIT and other kernel leftovers have no owner).
  return rows.filter((r) => r.local.endsWith(`:${port}`) && r.pid === serverPid && !held.has(r.peer));
}
