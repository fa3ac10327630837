import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts, sleep } from "./redis.js";

const CONF = fileURLToPath(new URL("../../../deploy/nginx.conf", import.meta.url));

/** Why nginx tests cannot run here, or undefined when nginx is installed (CI must have it). */
export function nginxMissing(): string | undefined {
  const found = spawnSync("nginx", ["-v"], { stdio: "ignore" });
  if (!found.error && found.status === 0) return undefined;
  if (process.env.CI) throw new Error("nginx is not installed but CI is set: run .ci/install-redis.sh");
  return "nginx is not installed (apt-get install nginx, or .ci/install-redis.sh)";
}

/**
 * deploy/nginx.conf itself, with only its addresses changed: the upstream servers become
 * `backends` and the two listen ports free ones. So the shipped file is what the tests exercise.
 */
export function renderConfig(backends: number[], h2cPort: number, h1Port: number): string {
  const src = readFileSync(CONF, "utf8");
  const servers = backends.map((p) => `    server 127.0.0.1:${p};`).join("\n");
  const out = src
    .replace(/(    server 127\.0\.0\.1:\d+;\n)+/g, `${servers}\n`)
    .replace(/listen 8080 http2;/, `listen 127.0.0.1:${h2cPort} http2;`)
    .replace(/listen 8081;/, `listen 127.0.0.1:${h1Port};`);
  if (out === src || !out.includes(`:${h2cPort} http2`) || !out.includes(`:${h1Port};`)) throw new Error("deploy/nginx.conf no longer has the expected upstream/listen lines");
  return out;
}

/** A real nginx in front of oneport instances, started from deploy/nginx.conf and stopped by PID. */
export class TestNginx {
  private constructor(
    private readonly proc: ChildProcess,
    private readonly dir: string,
    /** HTTP/2 cleartext (prior knowledge) port: gRPC, Connect/gRPC-Web over h2. */
    readonly h2cPort: number,
    /** HTTP/1.1 port: REST, SSE, WebSocket, Connect/gRPC-Web over HTTP/1.1. */
    readonly h1Port: number,
  ) {}

  /** Starts nginx for these backend ports and waits until both of its ports accept connections. */
  static async start(backends: number[]): Promise<TestNginx> {
    const dir = mkdtempSync(join(tmpdir(), "oneport-nginx-"));
    const [h2c, h1] = (await freePorts(2)) as [number, number];
    const conf = join(dir, "nginx.conf");
    writeFileSync(conf, renderConfig(backends, h2c, h1));
    const globals = `daemon off; pid ${join(dir, "nginx.pid")}; error_log ${join(dir, "error.log")} notice;`;
    const proc = spawn("nginx", ["-p", dir, "-c", conf, "-g", globals], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    proc.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    const ngx = new TestNginx(proc, dir, h2c, h1);
    for (let i = 0; i < 400; i++) {
      if (proc.exitCode !== null) throw new Error(`nginx exited (${proc.exitCode}): ${stderr}`);
      if ((await accepts(h2c)) && (await accepts(h1))) return ngx;
      await sleep(25);
    }
    await ngx.stop();
    throw new Error(`nginx did not open its ports: ${stderr}`);
  }

  /** nginx's error log so far (for failure messages). */
  errorLog(): string {
    try {
      return readFileSync(join(this.dir, "error.log"), "utf8");
    } catch {
      return "";
    }
  }

  /** Stops nginx (SIGQUIT: graceful), waits for it, and removes its directory. */
  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once("exit", r));
      this.proc.kill("SIGQUIT");
      const t = setTimeout(() => this.proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
