// The soak's pass/fail rules on their own (the RSS trend, the chat message accounting) and its settings.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { growth, summarize } from "./heap-diff.js";
import { parseMetrics, serverHeld } from "./server-process.js";
import { soakSettings } from "./settings.js";
import { verifyRoom, type RoomLedger, type SubscriberLog } from "./chat-ledger.js";
import { defaultTrendRule, median, rssTrend, slope, type Sample } from "./trend.js";

const MiB = 1024 * 1024;
/** One sample every 2 s over `seconds`, RSS = base + growth per minute, with a sawtooth of GC noise. */
const run = (seconds: number, baseMiB: number, growthMiBPerMin: number): Sample[] =>
  Array.from({ length: seconds / 2 + 1 }, (_, i) => ({ t: i * 2, rss: (baseMiB + (growthMiBPerMin * i * 2) / 60 + (i % 5) * 0.8) * MiB }));

describe("RSS trend", () => {
  it("computes a least-squares slope and a median", () => {
    assert.equal(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]), 2);
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  it("passes a flat RSS with noise", () => {
    const v = rssTrend(run(600, 150, 0), 600);
    assert.ok(v.ok, v.reasons.join("; "));
    assert.ok(Math.abs(v.slopeMiBPerMin) < 0.2);
  });

  it("ignores the growth of the warm-up", () => {
    // Grows 30 MiB in the first 2 minutes, flat after.
    const samples = run(600, 150, 0).map((s) => ({ ...s, rss: s.rss + Math.min(s.t, 120) * 0.25 * MiB }));
    assert.ok(rssTrend(samples, 600).ok);
  });

  it("fails a steady leak of 3 MiB/min and says by how much", () => {
    const v = rssTrend(run(600, 150, 3), 600);
    assert.equal(v.ok, false);
    assert.match(v.reasons[0], /RSS grows 3\.\d\d MiB\/min after warm-up/);
  });

  it("fails a late jump that the slope alone might forgive", () => {
    const samples = run(600, 100, 0).map((s) => ({ ...s, rss: s.rss + (s.t > 480 ? 30 * MiB : 0) }));
    const v = rssTrend(samples, 600, { ...defaultTrendRule, maxSlopeMiBPerMin: 100 });
    assert.equal(v.ok, false);
    assert.match(v.reasons.join(), /last quarter's median RSS/);
  });

  it("fails a heap that keeps growing after GC while RSS stays flat", () => {
    const samples = run(600, 150, 0).map((s) => ({ ...s, heapAfterGc: (40 + (s.t / 60) * 2) * MiB }));
    const v = rssTrend(samples, 600);
    assert.equal(v.ok, false);
    assert.match(v.reasons.join(), /heap after GC grows 2\.00 MiB\/min/);
    assert.ok(rssTrend(run(600, 150, 0).map((s) => ({ ...s, heapAfterGc: 40 * MiB })), 600).ok);
  });

  it("refuses to judge a run too short to have samples after warm-up", () => {
    assert.match(rssTrend(run(4, 150, 0), 4).reasons.join(), /too few samples/);
  });
});

const ledger = (sent: Array<[string, string, number]>): RoomLedger => ({
  room: "r",
  anchor: "A",
  final: "F",
  sent: new Map(sent.map(([text, sender, seq]) => [text, { sender, seq, certain: true }])),
});
const sub = (name: string, texts: string[], longLived = true): SubscriberLog => ({ name, texts, longLived });

describe("chat accounting", () => {
  const l = ledger([["a0", "a", 0], ["a1", "a", 1], ["b0", "b", 0]]);

  it("accepts subscribers that saw every message once, in one order, around the markers", () => {
    const texts = ["warm", "A", "a0", "b0", "a1", "F"];
    assert.deepEqual(verifyRoom(l, [sub("s1", texts), sub("s2", texts.slice(1)), sub("short", ["b0", "a1"], false)]), []);
  });

  it("names a lost, a duplicated and a foreign message", () => {
    const kinds = verifyRoom(l, [sub("s1", ["A", "a0", "a0", "b0", "x", "F"])]).map((p) => `${p.kind}: ${p.detail}`);
    assert.deepEqual(kinds.sort(), ["duplicated: a0 x2", "foreign: x", "lost: a1"]);
  });

  it("finds a sender's messages out of order and a subscriber whose order differs from the others", () => {
    const p = verifyRoom(l, [sub("s1", ["A", "a0", "b0", "a1", "F"]), sub("s2", ["A", "a1", "b0", "a0", "F"])]);
    assert.deepEqual(p.map((x) => `${x.subscriber} ${x.kind}`), ["s2 out of order", "s2 order differs"]);
  });

  it("finds a gap in a short subscription and a subscriber that missed the final marker", () => {
    const p = verifyRoom(l, [sub("s1", ["A", "a0", "b0", "a1", "F"]), sub("s2", ["A", "a0"]), sub("short", ["a0", "a1"], false)]);
    assert.deepEqual(p.map((x) => `${x.subscriber} ${x.kind}`), ["s2 no markers", "short gap"]);
  });

  it("does not count a message whose send failed as lost", () => {
    const uncertain = ledger([["a0", "a", 0]]);
    uncertain.sent.get("a0")!.certain = false;
    assert.deepEqual(verifyRoom(uncertain, [sub("s1", ["A", "F"])]), []);
  });
});

describe("soak settings", () => {
  it("defaults to 10 minutes with the trend asserted, and lets flags win over the environment", () => {
    const d = soakSettings([], {});
    assert.equal(d.seconds, 600);
    assert.equal(d.trend, true);
    const s = soakSettings(["--seconds", "30", "--no-trend"], { SOAK_SECONDS: "15", SOAK_RATE: "4" });
    assert.deepEqual([s.seconds, s.rate, s.trend], [30, 4, false]);
  });

  it("refuses a run length that is not a positive number, saying which setting is wrong", () => {
    assert.throws(() => soakSettings(["--seconds", "soon"], {}), /--seconds \(SOAK_SECONDS\) must be a positive number, got "soon"/);
    assert.throws(() => soakSettings([], { SOAK_SECONDS: "-5" }), /must be a positive number, got "-5"/);
    assert.throws(() => soakSettings(["--minutes", "5"], {}), /Unknown option '--minutes'/);
  });
});

describe("server figures", () => {
  it("sums the watched metrics over their labels and leaves absent ones undefined", () => {
    const text = '# HELP oneport_connections_open x\noneport_connections_open{transport="h1"} 3\noneport_connections_open{transport="h2"} 2\nnodejs_heap_size_used_bytes 1.5e6\noneport_websocket_streams_open 0\n';
    assert.deepEqual(parseMetrics(text), { heapUsed: 1.5e6, connections: 5, connectionsByTransport: { h1: 3, h2: 2 }, wsConnections: undefined, wsStreams: 0, internal: {} });
  });

  it("lists the calls counted as INTERNAL by protocol and method, and no other code", () => {
    const line = (protocol: string, method: string, code: string, n: number) =>
      `oneport_server_handled_total{protocol="${protocol}",service="example.ExampleService",method="${method}",type="server_stream",code="${code}"} ${n}\n`;
    const text = line("connect", "SayHelloStream", "Internal", 31) + line("connect", "SayHelloStream", "Canceled", 4) + line("grpc", "SayHello", "Internal", 0) + line("grpc", "Chatter", "OK", 9);
    assert.deepEqual(parseMetrics(text).internal, { "connect example.ExampleService/SayHelloStream": 31 });
  });

  it("tells sockets the server holds alone from those a client still holds and from kernel leftovers", () => {
    const rows = [
      { state: "ESTAB", local: "127.0.0.1:80", peer: "127.0.0.1:5001", pid: 2 },
      { state: "ESTAB", local: "127.0.0.1:5001", peer: "127.0.0.1:80", pid: 1 },
      { state: "CLOSE-WAIT", local: "127.0.0.1:80", peer: "127.0.0.1:5002", pid: 2 },
      { state: "TIME-WAIT", local: "127.0.0.1:80", peer: "127.0.0.1:5003" },
    ];
    assert.deepEqual(serverHeld(rows, 80, 1, 2), [rows[2]]);
  });

  it("sums a heap snapshot by constructor and lists what grew most", () => {
    // The shape V8 writes: flat node records of node_fields, names as indexes into strings.
    const snap = (sessions: number) =>
      JSON.stringify({
        snapshot: { meta: { node_fields: ["type", "name", "id", "self_size", "edge_count"], node_types: [["hidden", "object", "string"]] } },
        nodes: [...Array.from({ length: sessions }, (_, i) => [1, 0, i, 100, 0]).flat(), 2, 1, 99, 40, 0],
        strings: ["Session", "hello"],
      });
    const before = summarize(snap(1));
    assert.deepEqual(before.get("object Session"), { count: 1, bytes: 100 });
    assert.deepEqual(before.get("string"), { count: 1, bytes: 40 });
    assert.match(growth(before, summarize(snap(11)))[0], /^\s+\+1 KiB\s+\+10 objects \(now 11\)\s+object Session$/);
  });
});
