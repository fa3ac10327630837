import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Why Redis tests cannot run here, or undefined when redis-server is installed. */
export function redisMissing(): string | undefined {
  const found = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  if (found.error || found.status !== 0) {
    // CI must run these tests: a missing redis-server there is a failure, not a skip.
    if (process.env.CI) throw new Error("redis-server is not installed but CI is set: run .ci/install-redis.sh");
    return "redis-server is not installed (apt-get install redis-server, or .ci/install-redis.sh)";
  }
  return undefined;
}

/** `n` distinct free TCP ports on 127.0.0.1 (held together while picked, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer());
  await Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve))));
  const ports = servers.map((srv) => (srv.address() as { port: number }).port);
  await Promise.all(servers.map((srv) => new Promise((resolve) => srv.close(resolve))));
  return ports;
}

/** A free TCP port on 127.0.0.1 (bound and released; fine for tests on one machine). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/** A redis-server this test started, on its own port, stopped by PID. */
export class TestRedis {
  readonly dir = mkdtempSync(join(tmpdir(), "oneport-redis-"));
  private pid: number | undefined;
  private constructor(readonly port: number) {}

  /** Picks a free port without starting the server yet (`restart()` starts it). */
  static async reserve(): Promise<TestRedis> {
    return new TestRedis(await freePort());
  }

  /** Starts redis-server on a free port and waits until it answers PING. */
  static async start(): Promise<TestRedis> {
    const r = new TestRedis(await freePort());
    await r.restart();
    return r;
  }

  /** redis://127.0.0.1:PORT */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (again) on the same port: used to end a simulated outage. */
  async restart(): Promise<void> {
    const pidfile = join(this.dir, "redis.pid");
    rmSync(pidfile, { force: true });
    execFileSync("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "yes", "--pidfile", pidfile, "--dir", this.dir, "--logfile", join(this.dir, "redis.log")]);
    for (let i = 0; i < 200; i++) {
      try {
        this.pid = Number(readFileSync(pidfile, "utf8").trim());
        if ((await this.command("PING")) === "+PONG") return;
      } catch {
        // not up yet
      }
      await sleep(25);
    }
    throw new Error(`redis-server did not start on port ${this.port}; see ${this.dir}/redis.log`);
  }

  /** Kills the server by PID (SIGKILL: an outage, not a shutdown) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    this.pid = undefined;
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    while (alive(pid)) await sleep(10);
  }

  /** Stops the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill("SIGTERM");
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Sends one inline command and returns the first reply line (e.g. "+PONG", ":3"). */
  command(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(this.port, "127.0.0.1");
      let data = "";
      sock.setEncoding("utf8");
      sock.on("error", reject);
      sock.on("connect", () => sock.write(`${args.join(" ")}\r\n`));
      sock.on("data", (chunk: string) => {
        data += chunk;
        const end = data.indexOf("\r\n");
        if (end >= 0) {
          sock.destroy();
          resolve(data.slice(0, end));
        }
      });
    });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true (no timing assertion: the test runner's timeout bounds it). */
export async function until(check: () => boolean | Promise<boolean>, what: string, limitMs = 10_000): Promise<void> {
  const stopAt = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > stopAt) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
