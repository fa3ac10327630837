import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../../src/main.ts", import.meta.url));

/** One JSON log line of a oneport process. */
export type LogLine = Record<string, unknown> & { msg?: string };

/** `npx tsx src/main.ts ARGS` as a real child process, with its log lines parsed as they come. */
export class OneportProcess {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Set<() => void>();
  private constructor(readonly proc: ChildProcess) {
    createInterface({ input: proc.stdout! }).on("line", (l) => {
      try {
        this.lines.push(JSON.parse(l) as LogLine);
      } catch {
        this.lines.push({ msg: l });
      }
      for (const w of this.waiters) w();
    });
    createInterface({ input: proc.stderr! }).on("line", (l) => this.stderr.push(l));
    this.exited = new Promise((resolve) => proc.on("exit", (code, signal) => {
      resolve({ code, signal });
      for (const w of this.waiters) w();
    }));
  }

  /** Starts the CLI with these arguments and extra environment. */
  static start(args: string[], env: NodeJS.ProcessEnv = {}): OneportProcess {
    const proc = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
      env: { ...process.env, LOG_LEVEL: "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new OneportProcess(proc);
  }

  /** Resolves with the first log line (from index `from`) that matches; rejects if the process exits first. */
  async waitFor(match: (l: LogLine) => boolean, what: string, from = 0): Promise<LogLine> {
    for (;;) {
      const found = this.lines.slice(from).find(match);
      if (found) return found;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`oneport exited (${this.proc.exitCode ?? this.proc.signalCode}) before ${what}; stderr: ${this.stderr.join("\n")}; last lines: ${JSON.stringify(this.lines.slice(-5))}`);
      }
      await new Promise<void>((resolve) => {
        const w = () => {
          this.waiters.delete(w);
          resolve();
        };
        this.waiters.add(w);
      });
    }
  }

  /** Log lines whose msg is `msg`. */
  messages(msg: string): LogLine[] {
    return this.lines.filter((l) => l.msg === msg);
  }

  /** SIGTERM, then waits for the exit (SIGKILL after `killAfterMs` as a last resort). */
  async stop(killAfterMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGTERM");
      const t = setTimeout(() => this.proc.kill("SIGKILL"), killAfterMs);
      const r = await this.exited;
      clearTimeout(t);
      return r;
    }
    return this.exited;
  }
}

/** True while a process with this PID exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
