// WebSocket bridge: (1) unary SayHello over /ws, many calls in flight per connection, against a bare
// `ws` server answering each message with a payload of the same size, interleaved rounds; (2) chat
// fan-out: N subscribers over /ws in one room, one publisher: delivery latency and memory per connection.
// Server pinned to one core, this load generator to the other. Env: BENCH_ROUNDS (5), BENCH_SECONDS (3),
// BENCH_FANOUT ("1000,10000"), BENCH_ONLY ("unary" or "fanout"), BENCH_MESSAGES (20, per fan-out),
// BENCH_FANOUT_PROTOCOL (subscribers' subprotocol; JSON when unset), BENCH_FANOUT_ROUNDS (2), BENCH_NODE_ARGS
// (fan-out server flags), BENCH_PROFILE (a directory: CPU profiles of the measured fan-out deliveries
// only, one file per server and run, for `node --cpu-prof`-style reading). Fan-out is compared with a bare `ws` broadcast server (servers/ws-broadcast.ts).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { create, toBinary } from "@bufbuild/protobuf";
import WebSocket from "ws";
import { HelloRequestSchema } from "../../src/gen/example/example_pb.js";
import { FrameSchema } from "../../src/gen/oneport/ws/v1/frame_pb.js";
import type { Socket } from "node:net";
import { SubscribeRequestSchema } from "../../src/gen/chat/v1/chat_pb.js";
import { cpuSeconds, loadCore, median, serverCore, startChild } from "./load.js";
import { clientFrame, closedLoopRaw, openRaw } from "./ws-load.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const fanouts = (process.env.BENCH_FANOUT ?? "1000,10000").split(",").map(Number).filter((n) => n > 0);
const only = process.env.BENCH_ONLY;
/** Subprotocol of the fan-out subscribers: unset for oneport.json.v1, or "oneport.proto.v1". */
const protocol = process.env.BENCH_FANOUT_PROTOCOL || undefined;
const messages = Number(process.env.BENCH_MESSAGES ?? 20);
const fanoutRounds = Number(process.env.BENCH_FANOUT_ROUNDS ?? 2);
const here = new URL(".", import.meta.url).pathname;
const CONNS = 4;
const WINDOW = 64;

// The load generator takes the other core (taskset is installed with the other benches' tools).
try {
  execFileSync("taskset", ["-cp", loadCore, String(process.pid)], { stdio: "ignore" });
} catch {
  console.error("taskset unavailable: the load generator is not pinned");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function open(port: number, protocols: string[] = []): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, protocols, { perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

// Request frames, one per call id; the JSON text is the same bytes for oneport and the bare server.
const jsonRest = '","method":"example.ExampleService/SayHello","message":{"name":"Bob"}}';
const jsonFrame = (id: number) => '{"id":"' + id + jsonRest;
const hello = toBinary(HelloRequestSchema, create(HelloRequestSchema, { name: "Bob" }));
const protoFrame = (id: number) => toBinary(FrameSchema, create(FrameSchema, { id: String(id), method: "example.ExampleService/SayHello", message: hello }));

type Target = { name: string; port: number; pid: number; protocol?: string; frames: Buffer[] };
const IDS = 4096;
const jsonFrames = Array.from({ length: IDS }, (_, i) => clientFrame(jsonFrame(i)));
const protoFrames = Array.from({ length: IDS }, (_, i) => clientFrame(protoFrame(i)));

/** Closed loop: CONNS connections with WINDOW calls in flight each; responses per second and server CPU per response. */
async function closedLoop(t: Target, secs: number): Promise<{ rate: number; cpuUs: number; cpuShare: number }> {
  const load = await closedLoopRaw(t.port, t.protocol, t.frames, CONNS, WINDOW);
  await sleep(200); // reach steady state before measuring
  const c0 = load.count();
  const cpu0 = cpuSeconds(t.pid);
  const t0 = performance.now();
  await sleep(secs * 1000);
  const n = load.count() - c0;
  const cpu = cpuSeconds(t.pid) - cpu0;
  const elapsed = (performance.now() - t0) / 1000;
  load.stop();
  await sleep(100);
  return { rate: n / elapsed, cpuUs: (cpu * 1e6) / n, cpuShare: cpu / elapsed };
}

/** One request with a real client; the answer as text. */
async function ask(port: number, protocols: string[], frame: string | Uint8Array): Promise<string> {
  const ws = await open(port, protocols);
  const answer = await new Promise<string>((resolve) => {
    ws.once("message", (d: Buffer) => resolve(d.toString("latin1")));
    ws.send(frame);
  });
  ws.close();
  return answer;
}

async function unaryBench() {
  const oneport = await startChild(join(here, "servers", "oneport.ts"));
  // Check the answer and learn the response frame's size, so the bare server answers as much.
  const answer = await ask(oneport.port, [], jsonFrame(1));
  if (!answer.includes('"message":{"message":"Hello, Bob"}') || !answer.includes('"code":"ok"')) throw new Error(`oneport answered ${answer}`);
  const binary = await ask(oneport.port, ["oneport.proto.v1"], protoFrame(1));
  if (!binary.includes("Hello, Bob") || !binary.includes("ok")) throw new Error(`oneport answered the binary frame with ${binary}`);
  const echo = await startChild(join(here, "servers", "ws-echo.ts"), [String(Buffer.byteLength(answer))]);
  const targets: Target[] = [
    { name: "oneport json", port: oneport.port, pid: oneport.proc.pid!, frames: jsonFrames },
    { name: "oneport proto", port: oneport.port, pid: oneport.proc.pid!, protocol: "oneport.proto.v1", frames: protoFrames },
    { name: "bare ws", port: echo.port, pid: echo.proc.pid!, frames: jsonFrames },
  ];
  try {
    for (const t of targets) await closedLoop(t, 1); // warm-up (JIT), discarded
    const results = new Map<string, Array<{ rate: number; cpuUs: number; cpuShare: number }>>();
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(i + r) % targets.length];
        results.set(t.name, [...(results.get(t.name) ?? []), await closedLoop(t, seconds)]);
      }
      process.stderr.write(`unary round ${r + 1}/${rounds} done\n`);
    }
    const med = (name: string, f: (x: { rate: number; cpuUs: number; cpuShare: number }) => number) => median(results.get(name)!.map(f));
    const base = med("bare ws", (x) => x.rate);
    const baseCpu = med("bare ws", (x) => x.cpuUs);
    console.log(`\nUnary SayHello over /ws: ${CONNS} connections x ${WINDOW} in flight; response frame ${Buffer.byteLength(answer)} bytes; medians of ${rounds} interleaved rounds of ${seconds}s.`);
    console.log(`  ${"server".padEnd(14)} ${"msgs/s".padStart(9)} ${"CPU µs/msg".padStart(11)} ${"server CPU".padStart(11)} ${"x bare ws".padStart(10)} ${"x bare (CPU)".padStart(13)}  (target >= 0.60)`);
    for (const t of targets) {
      const rate = med(t.name, (x) => x.rate);
      const cpuUs = med(t.name, (x) => x.cpuUs);
      console.log(`  ${t.name.padEnd(14)} ${rate.toFixed(0).padStart(9)} ${cpuUs.toFixed(1).padStart(11)} ${(med(t.name, (x) => x.cpuShare) * 100).toFixed(0).padStart(10)}% ${(rate / base).toFixed(2).padStart(10)} ${(baseCpu / cpuUs).toFixed(2).padStart(13)}`);
    }
    console.log("  (server CPU well under 100% means something else (the load generator, other processes on the core) was the");
    console.log("   limit: then the CPU-time ratio is the one to read; on a saturated server core both agree)");
  } finally {
    oneport.proc.kill("SIGTERM");
    echo.proc.kill("SIGTERM");
  }
}

/** A fan-out server child (oneport's chat, or the bare broadcast), with "MEM" on stdin for memory readings. */
async function startFanoutServer(
  script: string,
  args: string[] = [],
): Promise<{ proc: ChildProcess; port: number; mem(): Promise<{ rss: number; heap: number }>; profile(file?: string): Promise<void> }> {
  // BENCH_NODE_ARGS adds node flags to the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const extra = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const proc = spawn("taskset", ["-c", serverCore, process.execPath, "--expose-gc", ...extra, "--import", "tsx", join(here, "servers", script), ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: proc.stdout! });
  const waiting: Array<(l: string) => void> = [];
  lines.on("line", (l) => waiting.shift()?.(l));
  const line = () => new Promise<string>((r) => waiting.push(r));
  const port = Number(/^PORT (\d+)$/.exec(await line())?.[1]);
  return {
    proc,
    port,
    async mem() {
      proc.stdin!.write("MEM\n");
      const [, rss, heap] = (await line()).split(" ");
      return { rss: Number(rss), heap: Number(heap) };
    },
    // Starts a CPU profile into `file`, or (no file) stops and writes it.
    async profile(file?: string) {
      proc.stdin!.write(`PROF ${file ?? ""}\n`);
      await line();
    },
  };
}

const auth = { authorization: "Bearer bench-token" };

interface FanoutRun {
  latencies: number[];
  lost: number;
  /** Server CPU per delivered message, µs. */
  cpuUs: number;
  /** Load generator CPU per published message, ms. */
  loadMs: number;
  /** Server memory per idle connection and per subscribed connection, bytes (RSS, heap). */
  idle: { rss: number; heap: number };
  subscribed: { rss: number; heap: number };
}

/** One fan-out run: n raw-socket subscribers on a fresh server, `messages` published one at a time. */
async function fanoutRun(kind: "oneport" | "bare", n: number): Promise<FanoutRun> {
  const room = `bench-${n}`;
  const server = kind === "oneport" ? await startFanoutServer("ws-chat.ts") : await startFanoutServer("ws-broadcast.ts", [room]);
  try {
    await sleep(300);
    const m0 = await server.mem();
    // Subscribers are lean raw-socket clients (ws-load.ts): a `ws` client per subscriber would make
    // this one process, not the server, the slowest part of the measured latency at 10k.
    let expect = Buffer.alloc(0);
    let sentAt = 0;
    let got = 0;
    let lastFrameAt = 0;
    // Waits until no frame has arrived for `ms` (the server has sent everything it had queued), at most 30 s.
    const quiet = async (ms: number) => {
      const until = Date.now() + 30_000;
      while (performance.now() - lastFrameAt < ms && Date.now() < until) await sleep(Math.min(ms, 50));
    };
    const latencies: number[] = [];
    const ready = new Set<number>();
    const subs: Socket[] = [];
    for (let i = 0; i < n; i += 250) {
      const batch = Array.from({ length: Math.min(250, n - i) }, (_, j) => {
        const k = i + j;
        return openRaw(server.port, kind === "oneport" ? protocol : undefined, () => {}, (payload) => {
          ready.add(k);
          lastFrameAt = performance.now();
          if (expect.length > 0 && payload.indexOf(expect) >= 0) {
            latencies.push(performance.now() - sentAt);
            got++;
          }
        });
      });
      subs.push(...(await Promise.all(batch)));
    }
    await sleep(300);
    const m1 = await server.mem();
    if (kind === "oneport") {
      const subscribe = protocol ? protoSubscribe(room) : clientFrame(JSON.stringify({ id: "sub", method: "chat.v1.ChatService/Subscribe", headers: auth, message: { room } }));
      for (const s of subs) s.write(subscribe);
    }
    const pub = await open(server.port);
    let seq = 0;
    const publish = (text: string) =>
      pub.send(kind === "bare" ? `pub:${text}` : JSON.stringify({ id: String(++seq), method: "chat.v1.ChatService/Send", headers: auth, message: { room, text } }));
    // Warm-up: publish until every subscriber has received something (its subscription is live), one
    // message at a time, so that no backlog of warm-up messages is still being delivered when measuring.
    const deadline = Date.now() + 120_000;
    while (ready.size < n && Date.now() < deadline) {
      publish("warm-up");
      await sleep(500);
      await quiet(500);
    }
    if (ready.size < n) throw new Error(`${kind}: only ${ready.size} of ${n} subscribers are live after 120 s`);
    await quiet(500);
    const m2 = await server.mem();

    let lost = 0;
    const profileDir = process.env.BENCH_PROFILE;
    if (profileDir) await server.profile(join(profileDir, `${kind}-${n}-${Date.now()}.cpuprofile`));
    const serverCpu0 = cpuSeconds(server.proc.pid!);
    const loadCpu0 = process.cpuUsage();
    for (let i = 0; i < messages; i++) {
      got = 0;
      const marker = `m-${i}-`;
      expect = Buffer.from(marker);
      sentAt = performance.now();
      publish(`${marker}${sentAt}`);
      const until = Date.now() + 10_000;
      while (got < n && Date.now() < until) await sleep(1);
      lost += n - got;
      await quiet(got < n ? 500 : 20);
    }
    const serverCpu = cpuSeconds(server.proc.pid!) - serverCpu0;
    const load = process.cpuUsage(loadCpu0);
    if (profileDir) await server.profile();
    pub.terminate();
    subs.forEach((s) => s.destroy());
    return {
      latencies,
      lost,
      cpuUs: (serverCpu * 1e6) / (messages * n),
      loadMs: (load.user + load.system) / 1000 / messages,
      idle: { rss: (m1.rss - m0.rss) / n, heap: (m1.heap - m0.heap) / n },
      subscribed: { rss: (m2.rss - m0.rss) / n, heap: (m2.heap - m0.heap) / n },
    };
  } finally {
    server.proc.kill("SIGTERM");
    await new Promise((r) => server.proc.once("exit", r));
  }
}

/** Fan-out to n subscribers: oneport's chat against the bare broadcast, interleaved rounds. */
async function fanoutBench(n: number) {
  const runs: Record<"oneport" | "bare", FanoutRun[]> = { oneport: [], bare: [] };
  for (let r = 0; r < fanoutRounds; r++) {
    for (const kind of r % 2 ? (["bare", "oneport"] as const) : (["oneport", "bare"] as const)) runs[kind].push(await fanoutRun(kind, n));
    process.stderr.write(`fan-out ${n}: round ${r + 1}/${fanoutRounds} done\n`);
  }
  const pct = (xs: number[], p: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
  };
  const row = (kind: "oneport" | "bare") => {
    const rs = runs[kind];
    return {
      p50: median(rs.map((x) => pct(x.latencies, 50))),
      p99: median(rs.map((x) => pct(x.latencies, 99))),
      max: Math.max(...rs.map((x) => pct(x.latencies, 100))),
      lost: rs.reduce((a, x) => a + x.lost, 0),
      cpuUs: median(rs.map((x) => x.cpuUs)),
      loadMs: median(rs.map((x) => x.loadMs)),
      idle: median(rs.map((x) => x.idle.rss)),
      idleHeap: median(rs.map((x) => x.idle.heap)),
      sub: median(rs.map((x) => x.subscribed.rss)),
      subHeap: median(rs.map((x) => x.subscribed.heap)),
    };
  };
  const o = row("oneport");
  const b = row("bare");
  const kb = (x: number) => (x / 1024).toFixed(1);
  console.log(`\nFan-out: ${n} WebSocket subscribers (${protocol ?? "oneport.json.v1"}) in one room, one publisher, ${messages} messages; medians of ${fanoutRounds} interleaved rounds.`);
  console.log(`  ${"server".padEnd(14)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"max ms".padStart(8)} ${"missed".padStart(7)} ${"CPU µs/delivery".padStart(16)} ${"x bare (CPU)".padStart(13)} ${"idle KB/conn".padStart(13)} ${"subscribed KB/conn".padStart(19)}`);
  for (const [name, x] of [["oneport chat", o], ["bare ws", b]] as const) {
    console.log(
      `  ${name.padEnd(14)} ${x.p50.toFixed(1).padStart(8)} ${x.p99.toFixed(1).padStart(8)} ${x.max.toFixed(1).padStart(8)} ${String(x.lost).padStart(7)} ${x.cpuUs.toFixed(1).padStart(16)} ${(b.cpuUs / x.cpuUs).toFixed(2).padStart(13)} ${`${kb(x.idle)} (${kb(x.idleHeap)})`.padStart(13)} ${`${kb(x.sub)} (${kb(x.subHeap)})`.padStart(19)}`,
    );
  }
  console.log(`  targets: p99 <= 200 ms at 10k subscribers; idle connection < 20 KB (RSS, heap in parentheses). Load generator CPU per message: ${o.loadMs.toFixed(1)} ms (oneport), ${b.loadMs.toFixed(1)} ms (bare)`);
  console.log("  (latency is measured in this one load-generator process, so it includes its time to read all N frames; the bare");
  console.log("   server is `ws` broadcasting a frame of the same shape, one send per client, as ws's README shows)");
}

// The Subscribe request as a binary oneport.ws.v1.Frame, for BENCH_FANOUT_PROTOCOL=oneport.proto.v1.
function protoSubscribe(room: string): Buffer {
  const message = toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { room }));
  return clientFrame(toBinary(FrameSchema, create(FrameSchema, { id: "sub", method: "chat.v1.ChatService/Subscribe", headers: auth, message })));
}

if (!only || only === "unary") await unaryBench();
if (!only || only === "fanout") for (const n of fanouts) await fanoutBench(n);
process.exit(0);
