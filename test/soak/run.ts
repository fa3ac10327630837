// `npm run soak`: the server as a child process under mixed traffic on every protocol for a bounded
// time (default 10 min), its RSS sampled from outside; fails on a growing RSS after warm-up, a lost
// or duplicated chat message, or any error that was not injected on purpose. See docs/soak.md.
import { mkdir, writeFile } from "node:fs/promises";
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
import { Inspector } from "./inspector.js";
import { metricsHeap, rssBytes, startServerProcess } from "./server-process.js";
import { KNOWN_DEFECTS, knownLogDefect } from "./known-defects.js";
import { soakSettings, type SoakSettings } from "./settings.js";
import { Tally } from "./tally.js";
import { defaultTrendRule, rssTrend, type Sample } from "./trend.js";

let cfg: SoakSettings;
try {
  cfg = soakSettings(process.argv.slice(2), process.env);
} catch (e) {
  console.error(`soak: ${(e as Error).message}\nUsage: npm run soak -- [--seconds N] [--rate N] [--seed N] [--report FILE] [--no-trend] [--strict] (see docs/soak.md)`);
  process.exit(2);
}
const { seconds, rate, seed, trend, strict, reportPath } = cfg;
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
const wsChat = createWebSocketTransport({ baseUrl: server.url, WebSocket, useBinaryFormat: true });
const chat = new ChatTraffic({
  url: server.url,
  tally,
  random,
  senderToken: TOKENS.sender,
  subscriberToken: TOKENS.listener,
  rooms: ["soak-a", "soak-b", "soak-c"],
  sendIntervalMs: 500,
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
      const [rss, metrics] = await Promise.all([rssBytes(server.pid), metricsHeap(server.url)]);
      samples.push({ t, rss, heapAfterGc, metricsHeapUsed: metrics?.heapUsed });
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
await new Promise((r) => setTimeout(r, seconds * 1000));
await driver.stop();
phase("traffic stopped; checking chat deliveries");
const chatResult = await chat.stop();
clearInterval(sampler);
clearInterval(progress);
await sample(true);
console.log(progressLine(elapsed(), tally, chatSent(), samples));
await inspector.close();
chat.close();
await Promise.all(lanes.map((l) => l.close()));
h2.abort();
await wsChat.close();

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
if (tally.unexpectedTotal > 0) reasons.push(`${tally.unexpectedTotal} unexpected outcomes (listed above)`);
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
  server: { pid: server.pid, exitCode, aliveAtEnd: alive, logs: server.logs.slice(0, 100).map((l) => l.line) },
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
