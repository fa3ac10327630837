import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { after } from "node:test";

/** Runs a TypeScript entry point with tsx, as users do with `npx tsx`. */
export function runTs(file: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", file, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return child;
}

/** Resolves with the exit code and everything printed. */
export function finished(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr?.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** Starts `src/main.ts` on a free port and resolves with its port once it logs "listening". */
export async function startMain(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; port: number; lines: Record<string, unknown>[] }> {
  const child = runTs("src/main.ts", ["--port", "0", ...args], env);
  const lines: Record<string, unknown>[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on("line", (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (entry.msg === "listening") resolve(Number(entry.port));
      } catch {
        // not a log line
      }
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  return { child, port, lines };
}
