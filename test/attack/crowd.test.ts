// Attacks measured from outside the server process: 10k idle connections and WebSocket clients that
// never read. Server and attacker are separate child processes (their own file descriptors; the
// server's RSS read from /proc); a probe in this process makes real calls during and after.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { rssBytes, spawnTs, type Child } from "./peers/spawn.js";
import { eventually, probe, probeWhile, serverSockets } from "./support.js";

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const CONNS = Number(process.env.ATTACK_CONNS ?? 10_000);
const MB = 1024 * 1024;

let server: Child;
let port = 0;
let pid = 0;
let url = "";

before(async () => {
  server = spawnTs(here("./peers/server.ts"), {
    // Idle attackers must outlive the test's measurement: long header timeout. maxConnections leaves
    // room for the probe above the crowd (at the default, 10_000, the crowd alone fills the port).
    // No address cool-down: the reconnecting floods below must reach the server again and again
    // (the cool-down is tested in cooldown.test.ts).
    ATTACK_LIMITS: JSON.stringify({ headersTimeoutMs: 120_000, requestTimeoutMs: 120_000, maxConnections: CONNS + 1000, http2ControlFrameBurst: 300, floodCooldownMs: 0 }),
    ATTACK_WS: JSON.stringify({ maxBufferedBytes: 256 * 1024, pingIntervalMs: 0 }),
  });
  const ready = await server.line((l) => typeof l.port === "number");
  port = ready.port as number;
  pid = ready.pid as number;
  url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 20; i++) await probe(url, `warm${i}`);
});
after(() => server?.stop());

describe(`${CONNS} concurrent idle connections`, { timeout: 120_000 }, () => {
  it("keeps answering, stays within 20 KB per connection, and drops them all when the attacker leaves", async (t) => {
    const t0 = performance.now();
    const mark = (what: string) => t.diagnostic(`${what} at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const rss0 = rssBytes(pid);
    const base = serverSockets(port);
    const attacker = spawnTs(here("./peers/idle-attacker.ts"), { ATTACK_PORT: String(port), ATTACK_CONNS: String(CONNS) });
    after(() => attacker.stop());
    const opened = await attacker.line((l) => "open" in l);
    assert.deepEqual(opened, { open: CONNS, closedEarly: 0 });
    mark("attacker connected");
    // At least the crowd: `base` may count a probe's connection that has closed since.
    await eventually(() => serverSockets(port) >= CONNS, `the server holds all ${CONNS} connections`, 90_000, 500);
    mark("server holds them");
    for (let i = 0; i < 10; i++) await probe(url, `during${i}`);
    mark("probed");
    const rss1 = rssBytes(pid);
    const perConn = (rss1 - rss0) / CONNS;
    t.diagnostic(`server RSS ${(rss0 / MB).toFixed(1)} MB -> ${(rss1 / MB).toFixed(1)} MB: ${(perConn / 1024).toFixed(1)} KB per idle connection`);
    assert.ok(perConn < 20 * 1024, `RSS grew ${(perConn / 1024).toFixed(1)} KB per idle connection (${((rss1 - rss0) / MB).toFixed(1)} MB for ${CONNS})`);
    await attacker.stop();
    mark("attacker gone");
    await eventually(() => serverSockets(port) <= base, "the server let go of every attacker connection", 90_000, 500);
    mark("server let go");
    await probe(url, "after");
  });
});

describe("WebSocket clients that never read", { timeout: 60_000 }, () => {
  it("ends their firehose streams with resource_exhausted; memory stays bounded; others are served", async () => {
    const N = 10;
    const rss0 = rssBytes(pid);
    const clients = await Promise.all(
      Array.from({ length: N }, () => new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ["oneport.json.v1"], { perMessageDeflate: false });
        ws.once("open", () => resolve(ws));
        ws.once("error", reject);
      })),
    );
    const frames = clients.map(() => [] as { id?: string; end?: boolean; status?: { code: string; message?: string } }[]);
    clients.forEach((ws, i) => ws.on("message", (d: Buffer) => frames[i].push(JSON.parse(d.toString()))));
    // Stop reading (the socket, not just the parser), then ask for an endless stream.
    for (const [i, ws] of clients.entries()) {
      (ws as unknown as { _socket: import("node:net").Socket })._socket.pause();
      ws.send(JSON.stringify({ id: "flood", method: "example.ExampleService/SayHelloStream", message: { name: `slow${i}`, count: 0 } }));
    }
    let peak = rss0;
    const sample = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 20);
    // The server prints {"ended": name} when it lets go of a firehose stream.
    await Promise.all(clients.map((_, i) => server.line((l) => l.ended === `slow${i}`)));
    await probe(url, "during");
    clearInterval(sample);
    peak = Math.max(peak, rssBytes(pid));
    assert.ok(peak - rss0 < 64 * MB, `server RSS grew ${((peak - rss0) / MB).toFixed(1)} MB for ${N} slow readers`);
    for (const [i, ws] of clients.entries()) {
      (ws as unknown as { _socket: import("node:net").Socket })._socket.resume();
      await eventually(() => frames[i].some((f) => f.id === "flood" && f.end), `client ${i} read its stream's end`);
      const end = frames[i].find((f) => f.id === "flood" && f.end)!;
      assert.equal(end.status?.code, "resource_exhausted");
      ws.close();
    }
    await probe(url, "after");
  });
});

describe("HTTP/2 floods at the default limits", { timeout: 60_000 }, () => {
  // Destroying a flooding session from inside nghttp2's callbacks once aborted the whole process
  // (nodejs/node#38964); the attacker reconnects after every GOAWAY to hit that path many times.
  // The budget is the default rate with a smaller burst, so three floods are over in moments; no
  // address cool-down, so that every reconnection floods again.
  for (const kind of ["rapid-reset", "ping"]) {
    // A PING flood read in one piece (over 1000 PINGs) also trips nghttp2's own flood check (too many
    // acknowledgements queued), which ends the session with GOAWAY(INTERNAL_ERROR); the guard's
    // GOAWAY(ENHANCE_YOUR_CALM) goes first, so the attacker's first GOAWAY names the reason.
    it(`keeps the server process up and answering through a reconnecting ${kind} flood`, async () => {
      const attacker = spawnTs(here("./peers/flood-attacker.ts"), { ATTACK_PORT: String(port), ATTACK_KIND: kind });
      after(() => attacker.stop());
      await attacker.line((l) => "attacking" in l);
      // Three flooding connections closed by the server, probing meanwhile; each one's first GOAWAY
      // is ENHANCE_YOUR_CALM.
      const closed = attacker.line((l) => "goaway" in l && (l.closed as number) >= 3);
      closed.catch(() => undefined); // awaited below; a failed probe must not leave it unhandled
      await probeWhile(url, closed);
      await closed;
      await attacker.stop();
      const codes = attacker.lines.filter((l) => "goaway" in l).map((l) => l.goaway);
      assert.ok(codes.length > 0 && codes.every((c) => c === 11), `first GOAWAY codes: ${codes.join(" ")}`);
      assert.equal(server.proc.exitCode, null, "the server process is alive");
      await probe(url, "after");
    });
  }
});
