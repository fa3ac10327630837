// `npm run soak`: the server as a child process under mixed traffic on every protocol for a bounded
// time (default 10 min), its RSS sampled from outside; fails on a growing RSS after warm-up, a lost
// or duplicated chat message, or any error that was not injected on purpose. See docs/soak.md.
import { mkdir, writeFile } from "node:fs/promises";
import { globalAgent } from "node:http";
import { dirname } from "node:path";
import { Http2SessionManager, createConnectTransport } from "@connectrpc/connect-node";
import { WebSocket } from "ws";
import { createWebSocketTransport } from "../../src/client/index.js";
import { ChatTraffic } from "./chat-traffic.js";
import { Driver, seeded, type Lane, type LaneEnv } from "./lane.js";
import { grpcLane } from "./lane-grpc.js";
import { restLane } from "./lane-rest.js";
import { wsBadFrames } from "./lane-ws-raw.js";
import { connectJsonLane, connectProtoLane, grpcWebLane, wsLane } from "./lanes-connect.js";
import { callTable, progressLine, rssTable, trendLine } from "./report.js";
import { growth, summarize, type HeapKind } from "./heap-diff.js";
import { Inspector } from "./inspector.js";
import { rssBytes, scrape, serverHeld, socketTable, startServerProcess, type ScrapedMetrics } from "./server-process.js";
import { KNOWN_DEFECTS, knownLogDefect } from "./known-defects.js";
import { soakSettings, type SoakSettings } from "./settings.js";
import { Tally } from "./tally.js";
import { defaultTrendRule, rssTrend, type Sample } from "./trend.js";

let cfg: SoakSettings;
try {
  cfg = soakSettings(process.argv.slice(2), process.env);
} catch (e) {
  console.error(`soak: ${(e as Error).message}\nUsage: npm run soak -- [--seconds N] [--rate N] [--seed N] [--report FILE] [--no-trend] [--strict] [--heap-diff] (see docs/soak.md)`);
  process.exit(2);
}
const { seconds, rate, seed, trend, strict, reportPath, heapDiff } = cfg;
const MAX_MESSAGE_BYTES = 64 * 1024;
const TOKENS = { sender: "soak-sender-token", listener: "soak-listener-token" };

const began = performance.now();
/** A phase line with the wall time since the start of the script. */
const phase = (what: string) => console.log(`[+${((performance.now() - began) / 1000).toFixed(1)}s] ${what}`);
console.log(`soak: ${seconds} s, ${rate} scenarios/s per protocol, seed ${seed}, RSS trend check ${trend ? "on" : "off (--no-trend)"}`);
const server = await startServerProcess(["--max-message-bytes", String(MAX_MESSAGE_BYTES)], { CHAT_TOKENS: `sender:${TOKENS.sender},listener:${TOKENS.listener}` });
// Whatever happens below, the child does not outlive the soak.
process.on("exit", () => server.child.kill("SIGKILL"));
phase(`server pid ${server.pid} ready on ${server.url}`);
const tally = new Tally(strict);
const random = seeded(seed);
const env: LaneEnv = { url: server.url, tally, maxMessageBytes: MAX_MESSAGE_BYTES, chatToken: TOKENS.sender, random };
const lanes: Lane[] = [grpcLane(env), connectJsonLane(env), connectProtoLane(env), grpcWebLane(env), restLane(env), wsLane(env, false), wsLane(env, true)];
for (const lane of lanes) if (lane.protocol.startsWith("ws-")) lane.scenarios.push(...wsBadFrames(env, lane.protocol === "ws-proto"));

const h2 = new Http2SessionManager(server.url);
const wsChat = createWebSocketTransport({ baseUrl: server.url, WebSocket, useBinaryFormat: true, connectTimeoutMs: 60_000, heartbeatTimeoutMs: 60_000 });
const chat = new ChatTraffic({
  url: server.url,
  tally,
  random,
  senderToken: TOKENS.sender,
  subscriberToken: TOKENS.listener,
  rooms: ["soak-a", "soak-b", "soak-c"],
  sendIntervalMs: 500,
  // The server keeps 1000 messages per room (ChatOptions.historyLimit): full before the trend starts.
  historyPrefill: trend ? 1000 : 0,
  bidi: [
    ["connect-proto-h2", createConnectTransport({ baseUrl: server.url, httpVersion: "2", useBinaryFormat: true, sessionManager: h2 })],
    ["ws-proto", wsChat],
  ],
});
await chat.start();
phase("chat subscribers on every protocol receive; traffic starts");

// Memory, sampled from outside: RSS from /proc/PID/status every sample; every GC_EVERY_MS also a
// full GC through the inspector and the heap left after it (and /metrics' heap where served).
const inspector = await Inspector.connect(server.inspectorUrl);
const GC_EVERY_MS = 10_000;
const samples: Sample[] = [];
const t0 = performance.now();
const elapsed = () => (performance.now() - t0) / 1000;
let lastGc = -Infinity;
let sampling = false;
const sample = async (gc = false) => {
  if (sampling) return; // a slow sample (loaded machine) is not overlapped by the next
  sampling = true;
  try {
    const t = Math.round(elapsed() * 10) / 10;
    if (gc || performance.now() - lastGc >= GC_EVERY_MS) {
      lastGc = performance.now();
      const heapAfterGc = await inspector.heapAfterGc();
      const [rss, m] = await Promise.all([rssBytes(server.pid), scrape(server.url)]);
      samples.push({ t, rss, heapAfterGc, metricsHeapUsed: m?.heapUsed, connections: m?.connections, wsConnections: m?.wsConnections, wsStreams: m?.wsStreams });
    } else samples.push({ t, rss: await rssBytes(server.pid) });
  } catch (e) {
    tally.fail("server", "memory sample", "a running server", "no sample", String(e));
  } finally {
    sampling = false;
  }
};
const sampleEvery = seconds >= 120 ? 2_000 : 500;
await sample(true);
const sampler = setInterval(() => void sample(), sampleEvery);
const chatSent = () => [...chat.ledgers.values()].reduce((n, l) => n + l.sent.size, 0);
const progress = setInterval(() => console.log(progressLine(elapsed(), tally, chatSent(), samples)), 10_000);

const driver = new Driver(lanes, 1000 / rate, 8, random, tally);
driver.start();
// With --heap-diff: a heap snapshot when warm-up ends, compared with one at the end.
let warmHeap: Promise<Map<string, HeapKind> | undefined> | undefined;
const warmTimer = heapDiff ? setTimeout(() => (warmHeap = inspector.heapSnapshot().then(summarize, () => undefined)), seconds * defaultTrendRule.warmupFraction * 1000) : undefined;
await new Promise((r) => setTimeout(r, seconds * 1000));
clearTimeout(warmTimer);
await driver.stop();
phase("traffic stopped; checking chat deliveries");
const chatResult = await chat.stop();
clearInterval(sampler);
clearInterval(progress);
await sample(true);
console.log(progressLine(elapsed(), tally, chatSent(), samples));
const before = await warmHeap;
if (before) console.log(`\nheap growth from the end of warm-up to the end (by kind, after GC):\n${growth(before, summarize(await inspector.heapSnapshot())).join("\n")}`);
await inspector.close();
chat.close();
await Promise.all(lanes.map((l) => l.close()));
h2.abort();
await wsChat.close();

// Idle keep-alive sockets stay in the clients' pools for as long as the server allows (its idle
// timeout): they are closed here, so that whatever is left open is the server's doing.
globalAgent.destroy();
await (globalThis as unknown as Record<symbol, { destroy(): Promise<void> } | undefined>)[Symbol.for("undici.globalDispatcher.1")]?.destroy();
// Every client closed: the server must let go of every connection it does not share with a client
// that is still open (ss), and of every WebSocket and WebSocket stream (/metrics).
const wsReleased = (m: ScrapedMetrics | undefined) => !m || ((m.wsConnections ?? 0) === 0 && (m.wsStreams ?? 0) === 0);
let left = await scrape(server.url);
let rows = await socketTable(server.port);
const stuck = () => (rows ? serverHeld(rows, server.port, process.pid, server.pid) : []);
// 20 s: idle keep-alive sockets of the clients' pools close within 5 s, grpc-js's subchannel pool within 10 s.
for (const until = Date.now() + 20_000; (stuck().length > 0 || !wsReleased(left)) && Date.now() < until; ) {
  await new Promise((r) => setTimeout(r, 500));
  [left, rows] = await Promise.all([scrape(server.url), socketTable(server.port)]);
}
const clientHeld = (rows ?? []).filter((r) => r.pid === process.pid);
phase(
  `after the clients closed: the server counts ${left?.connections ?? "?"} connections (${JSON.stringify(left?.connectionsByTransport ?? {})}, the scrape's included), ${left?.wsConnections ?? "?"} WebSockets, ${left?.wsStreams ?? "?"} WebSocket streams; ` +
    (rows ? `${stuck().length} held by the server alone, ${clientHeld.length} still open in this process's client pools` : "ss is missing: sockets not checked"),
);
for (const r of stuck()) console.log(`  server-held: ${r.state} ${r.local} <- ${r.peer}`);

// The server must still be alive, and stop cleanly on SIGTERM.
const alive = server.child.exitCode === null && server.child.signalCode === null;
phase("clients closed; stopping the server (SIGTERM)");
const exitCode = await server.stop();
phase(`server exited with ${exitCode}`);

const reasons: string[] = [];
const verdict = rssTrend(samples, seconds, defaultTrendRule);
if (trend) reasons.push(...verdict.reasons);
if (!alive) reasons.push(`the server process died during the run (exit code ${server.child.exitCode}, signal ${server.child.signalCode})`);
else if (exitCode !== 0) reasons.push(`the server did not stop cleanly on SIGTERM (exit code ${exitCode})`);
if (stuck().length > 0) reasons.push(`20 s after every client closed, the server still holds ${stuck().length} connections whose client end is closed (${stuck().map((r) => `${r.state} ${r.peer}`).join(", ")})`);
if (!wsReleased(left)) reasons.push(`20 s after every client closed, the server still counts ${left?.wsConnections} WebSockets and ${left?.wsStreams} WebSocket streams`);
if (tally.unexpectedTotal > 0) reasons.push(`${tally.unexpectedTotal} unexpected outcomes (listed above)`);
// No scenario asks for INTERNAL: the server counting one is a fault, even when the client saw what it
// expected (a client that reset its stream counted as INTERNAL was one: src/core/errors.ts resetByClient).
const internal = Object.entries(left?.internal ?? {});
if (internal.length > 0) reasons.push(`the server counted calls as INTERNAL: ${internal.map(([k, n]) => `${k} ${n}x`).join(", ")}`);
if (chatResult.problems > 0) reasons.push(`${chatResult.problems} chat delivery problems (lost, duplicated or reordered messages; listed above)`);
const knownLogs = server.logs.filter((l) => l.level >= 50 && !strict && knownLogDefect(l.line));
const serverErrors = server.logs.filter((l) => l.level >= 50 && !knownLogs.includes(l));
if (serverErrors.length > 0) reasons.push(`the server logged ${serverErrors.length} errors (first: ${serverErrors[0].line.slice(0, 300)})`);

console.log(`\nRSS over time (server pid ${server.pid}):\n${rssTable(samples)}\n`);
console.log(`${callTable(tally, driver.skipped)}\n`);
console.log(`chat: ${chatResult.sent} messages sent to ${chat.ledgers.size} rooms, ${chatResult.delivered} deliveries checked, ${chatResult.problems} problems`);
console.log(`${trendLine(verdict)}${trend ? "" : " (not asserted: --no-trend)"}`);
if (server.logs.length) console.log(`server warnings and errors: ${server.logs.length}\n${server.logs.slice(0, 10).map((l) => `  ${l.line.slice(0, 300)}`).join("\n")}`);
for (const [d, n] of tally.known) console.log(`\nKNOWN DEFECT, still present (${n}x): ${d.protocol} ${d.method}: expected ${d.expected}, got ${d.got}\n  cause: ${d.cause}`);
for (const l of knownLogs) console.log(`\nKNOWN DEFECT, still present: the server logged ${l.line.slice(0, 200)}...\n  cause: ${knownLogDefect(l.line)!.cause}`);
const fixed = KNOWN_DEFECTS.filter((d) => !tally.known.has(d) && (tally.tried.get(`${d.protocol} ${d.method}`) ?? 0) > 0);
for (const d of fixed) console.log(`\nknown defect no longer seen: ${d.protocol} ${d.method} (remove it from test/soak/known-defects.ts)`);
if (tally.unexpected.length) {
  console.log(`\nunexpected outcomes (${tally.unexpectedTotal}${tally.unexpectedTotal > tally.unexpected.length ? `, first ${tally.unexpected.length} kept` : ""}):`);
  for (const u of tally.unexpected) console.log(`  [${u.t}s] ${u.protocol} ${u.method}: expected ${u.expected}, got ${u.got}${u.message ? `: ${u.message}` : ""}`);
}

const report = {
  ok: reasons.length === 0,
  reasons,
  startedAt: new Date(Date.now() - elapsed() * 1000).toISOString(),
  options: { seconds, rate, seed, trend, strict, rule: defaultTrendRule, maxMessageBytes: MAX_MESSAGE_BYTES },
  server: { pid: server.pid, exitCode, aliveAtEnd: alive, afterClientsClosed: left ?? null, serverHeldSockets: stuck(), clientHeldSockets: clientHeld.length, logs: server.logs.slice(0, 100).map((l) => l.line) },
  trend: verdict,
  calls: Object.fromEntries(tally.byProtocol),
  skippedTicks: Object.fromEntries(driver.skipped),
  chat: chatResult,
  knownDefects: [...tally.known].map(([d, count]) => ({ ...d, count })),
  knownDefectLogs: knownLogs.map((l) => ({ line: l.line, cause: knownLogDefect(l.line)!.cause })),
  knownDefectsNoLongerSeen: fixed,
  unexpected: tally.unexpected,
  samples,
};
await mkdir(dirname(reportPath), { recursive: true });
await writeFile(reportPath, JSON.stringify(report, null, 2) + "\n");
console.log(`\nreport: ${reportPath}`);
if (reasons.length) {
  console.error(`\nSOAK FAILED:\n${reasons.map((r) => `  - ${r}`).join("\n")}`);
  process.exit(1);
}
console.log("\nSOAK PASSED");
process.exit(0);
