// Child processes of the attack tests and bench: the server under attack and the attackers.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

/** A child running a TypeScript file, with its stdout as parsed JSON lines. */
export interface Child {
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  /** Resolves with the first line for which `pred` holds. */
  line(pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Ends the child (stdin EOF, then SIGTERM, then SIGKILL after `graceMs`) and waits for its exit. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns `file` with tsx; stdin stays open (closing it tells attackers to stop). */
export function spawnTs(file: string, env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", file], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "inherit"] });
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: proc.stdout! }).on("line", (l) => {
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      return;
    }
    waiters.splice(0).forEach((w) => w());
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  void exited.then(() => waiters.splice(0).forEach((w) => w()));
  return {
    proc,
    lines,
    async line(pred) {
      for (;;) {
        const found = lines.find(pred);
        if (found) return found;
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${file} exited (${proc.exitCode ?? proc.signalCode}) before the expected output`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    async stop(graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      // Attackers stop when stdin closes; the server on SIGTERM; anything else is killed.
      proc.stdin?.end();
      const term = setTimeout(() => proc.kill("SIGTERM"), 1000);
      const kill = setTimeout(() => proc.kill("SIGKILL"), 1000 + graceMs);
      await exited;
      clearTimeout(term);
      clearTimeout(kill);
    },
  };
}

/** Resident set size of a process in bytes, from /proc/PID/status. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}
