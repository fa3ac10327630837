import assert from "node:assert/strict";
import { request } from "node:http";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { availableParallelism } from "node:os";
import { parseCli } from "../../src/cli-config.js";
import { restartDelayMs } from "../../src/cluster.js";
import { alive, OneportProcess, type LogLine } from "./support/proc.js";

/** SayHello over Connect JSON on a NEW TCP connection each time (so the primary picks a worker). */
function sayHello(port: number, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/example.ExampleService/SayHello", agent: false, headers: { "content-type": "application/json" } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => (res.statusCode === 200 ? resolve((JSON.parse(body) as { message: string }).message) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
    });
    req.on("error", reject);
    req.end(JSON.stringify({ name }));
  });
}

const isCall = (l: LogLine) => l.msg === "call" && l.method === "example.ExampleService/SayHello";

describe("restartDelayMs", () => {
  it("replaces a first crash at once and backs off exponentially on a crash loop, up to 30 s", () => {
    assert.deepEqual([1, 2, 3, 4, 5].map(restartDelayMs), [0, 200, 400, 800, 1600]);
    assert.equal(restartDelayMs(20), 30_000);
  });
});

// Both process suites start clusters; they run side by side to keep the file fast.
describe("node:cluster on one port", { concurrency: true }, () => {
  describe("--workers 2", { concurrency: 1 }, () => {
    let cluster: OneportProcess;
    let port: number;
    before(async () => {
      cluster = OneportProcess.start(["--workers", "2", "--port", "0", "--shutdown-timeout-ms", "2000"]);
      port = (await cluster.waitFor((l) => l.msg === "cluster is ready", "the cluster to be ready")).port as number;
    });
    after(() => cluster.stop());

    it("serves one port from two worker processes", async () => {
      const from = cluster.lines.length;
      for (let i = 0; i < 8; i++) assert.equal(await sayHello(port, `n${i}`), `Hello, n${i}`);
      await cluster.waitFor((l) => cluster.lines.slice(from).filter(isCall).length >= 8, "8 call log lines", from);
      const workers = new Set(cluster.lines.slice(from).filter(isCall).map((l) => l.pid));
      assert.equal(workers.size, 2, "both workers served calls");
    });

    it("keeps serving the port when a worker is killed, and replaces the worker", async () => {
      const pids = cluster.messages("worker listening").map((l) => l.pid as number);
      assert.equal(pids.length, 2);
      const from = cluster.lines.length;
      process.kill(pids[0]!, "SIGKILL");
      await cluster.waitFor((l) => l.msg === "worker exited; starting a replacement" && l.pid === pids[0], "the primary to see the crash", from);
      // Whether or not the replacement is up yet, every new connection is served.
      for (let i = 0; i < 6; i++) assert.equal(await sayHello(port, `after${i}`), `Hello, after${i}`);
      const replacement = await cluster.waitFor((l) => l.msg === "worker listening", "the replacement worker", from);
      assert.notEqual(replacement.pid, pids[0]);
      assert.equal(replacement.port, port);
      assert.equal(alive(pids[0]!), false);
    });

    it("drains every worker and exits 0 on SIGTERM", async () => {
      const pids = cluster.lines.filter((l) => l.msg === "worker listening").map((l) => l.pid as number).filter(alive);
      assert.equal(pids.length, 2);
      const { code } = await cluster.stop();
      assert.equal(code, 0);
      assert.equal(cluster.messages("stopped").length >= 2, true, "each worker logged a graceful stop");
      for (const pid of pids) assert.equal(alive(pid), false);
    });
  });

  describe("--workers when the port is taken", () => {
    it("exits 1 with the reason instead of restarting workers forever", async () => {
      const blocker = createServer();
      await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
      const taken = (blocker.address() as { port: number }).port;
      try {
        const p = OneportProcess.start(["--workers", "2", "--port", String(taken)]);
        const { code } = await p.exited;
        assert.equal(code, 1);
        assert.ok(p.lines.some((l) => /port is taken/.test(String(l.msg))), "a worker said why");
        assert.ok(p.messages("draining workers").some((l) => /failed to start/.test(String(l.reason))));
      } finally {
        blocker.close();
      }
    });
  });
});

describe("parseCli: --workers and --redis-url", () => {
  it("reads --workers, WORKERS and auto (one per core), and defaults to 1", () => {
    assert.equal(parseCli([], {}).workers, 1);
    assert.equal(parseCli(["--workers", "3"], {}).workers, 3);
    assert.equal(parseCli([], { WORKERS: "4" }).workers, 4);
    assert.equal(parseCli(["--workers", "2"], { WORKERS: "4" }).workers, 2);
    assert.equal(parseCli(["--workers", "auto"], {}).workers, availableParallelism());
  });

  it("refuses a bad worker count with a message that says what is allowed", () => {
    for (const bad of ["lots", "0", "-1", "1.5", "257"]) {
      assert.throws(() => parseCli([`--workers=${bad}`], {}), { message: `--workers (WORKERS) must be "auto" or an integer from 1 to 256, got "${bad}"` });
    }
  });

  it("takes REDIS_URL or --redis-url and refuses what is not a redis:// URL", () => {
    assert.equal(parseCli([], {}).redisUrl, undefined);
    assert.equal(parseCli([], { REDIS_URL: "" }).redisUrl, undefined);
    assert.equal(parseCli([], { REDIS_URL: "redis://127.0.0.1:6379" }).redisUrl, "redis://127.0.0.1:6379");
    assert.equal(parseCli(["--redis-url", "rediss://cache:6380/2"], {}).redisUrl, "rediss://cache:6380/2");
    for (const bad of ["127.0.0.1:6379", "http://x", "redis://"]) assert.throws(() => parseCli([], { REDIS_URL: bad }), /must look like redis:\/\/host:6379/);
  });
});
