// Bidi messages per second through the Connect WebSocket transport (oneport/client) over /ws, against
// Connect bidi over HTTP/2 (connect-node transport -> bare connect-node server) and a raw `ws` echo
// of the same frame bytes. Servers pinned to one core, this client to the other; interleaved rounds,
// medians. Targets: >= 2x connect-node, >= 0.5x the raw echo.
// Run alone: npx tsx test/bench/ws-transport.bench.ts   (BENCH_ROUNDS, BENCH_SECONDS)
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import WebSocket, { WebSocketServer } from "ws";
import { encodeClientFrame } from "../../src/client/ws-codec.js";
import { createWebSocketTransport } from "../../src/client/index.js";
import { ExampleService, HelloRequestSchema } from "../../src/gen/example/example_pb.js";
import { pushable } from "../client/support.js";
import { cpuSeconds, ensureTools, loadCore, median, startChild } from "./load.js";

const self = fileURLToPath(import.meta.url);

// A bare `ws` echo server: the child process this file starts as the raw baseline.
if (process.argv[2] === "echo-server") {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary })));
  wss.on("listening", () => console.log(`PORT ${(wss.address() as { port: number }).port}`));
  process.on("SIGTERM", () => process.exit(0));
} else {
  await main();
}

async function main() {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const seconds = Number(process.env.BENCH_SECONDS ?? 2);
  const STREAMS = 8;
  const WINDOW = Number(process.env.BENCH_WINDOW ?? 64); // messages in flight per stream

  ensureTools();
  execFileSync("taskset", ["-p", "-c", loadCore, String(process.pid)], { stdio: "ignore" });
  const here = join(self, "..");
  const children = {
    oneport: await startChild(join(here, "servers", "oneport.ts")),
    connect: await startChild(join(here, "servers", "connect-node.ts"), ["h2"]),
    echo: await startChild(self, ["echo-server"]),
  };
  const url = (k: keyof typeof children) => `http://127.0.0.1:${children[k].port}`;
  const wsTransport = createWebSocketTransport({ baseUrl: url("oneport"), WebSocket: WebSocket as never });
  const targets: Record<string, { pid: number; run: (secs: number) => Promise<number> }> = {
    "ws transport /ws (oneport)": { pid: children.oneport.proc.pid!, run: (s) => bidi(createClient(ExampleService, wsTransport), s) },
    "connect-node bidi h2": {
      pid: children.connect.proc.pid!,
      run: (s) => bidi(createClient(ExampleService, createConnectTransport({ baseUrl: url("connect"), httpVersion: "2" })), s),
    },
    "raw ws echo": { pid: children.echo.proc.pid!, run: (s) => echo(`ws://127.0.0.1:${children.echo.port}`, s) },
  };

  // One stream of STREAMS bidi calls, WINDOW requests in flight each; returns responses per second.
  async function bidi(client: Client<typeof ExampleService>, secs: number): Promise<number> {
    let count = 0;
    const t0 = performance.now();
    const end = t0 + secs * 1000;
    await Promise.all(
      Array.from({ length: STREAMS }, async () => {
        const input = pushable<{ name: string }>();
        let inflight = WINDOW;
        for (let i = 0; i < WINDOW; i++) input.push({ name: "Bob" });
        for await (const r of client.chatter(input)) {
          if (r.message !== "Hello, Bob") throw new Error(`wrong answer ${r.message}`);
          count++;
          inflight--;
          if (performance.now() < end) (input.push({ name: "Bob" }), inflight++);
          else if (inflight === 0) input.end();
        }
      }),
    );
    return count / ((performance.now() - t0) / 1000);
  }

  // The same number of messages in flight on one raw socket, echoing the bytes of a request frame.
  const frame = encodeClientFrame({ id: "1", message: toBinary(HelloRequestSchema, create(HelloRequestSchema, { name: "Bob" })) }, "proto") as Uint8Array;
  async function echo(address: string, secs: number): Promise<number> {
    const ws = new WebSocket(address);
    await new Promise((r, j) => (ws.once("open", r), ws.once("error", j)));
    let count = 0;
    let inflight = STREAMS * WINDOW;
    const t0 = performance.now();
    const end = t0 + secs * 1000;
    await new Promise<void>((resolve) => {
      ws.on("message", () => {
        count++;
        inflight--;
        if (performance.now() < end) (ws.send(frame), inflight++);
        else if (inflight === 0) resolve();
      });
      for (let i = 0; i < inflight; i++) ws.send(frame);
    });
    const rate = count / ((performance.now() - t0) / 1000);
    ws.close();
    return rate;
  }

  try {
    for (const t of Object.values(targets)) await t.run(0.5); // warm-up (JIT), discarded
    const results = new Map<string, { rate: number; cpuUs: number }[]>();
    const names = Object.keys(targets);
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + r) % names.length]; // rotate: nobody always first
        const cpu0 = cpuSeconds(targets[name].pid);
        const rate = await targets[name].run(seconds);
        const cpuUs = ((cpuSeconds(targets[name].pid) - cpu0) * 1e6) / (rate * seconds);
        results.set(name, [...(results.get(name) ?? []), { rate, cpuUs }]);
      }
    }
    const med = (n: string) => median(results.get(n)!.map((x) => x.rate));
    console.log(`bidi ExampleService/Chatter, ${STREAMS} streams x ${WINDOW} in flight, ${rounds} rounds of ${seconds}s (medians)`);
    for (const n of names) {
      const cpu = median(results.get(n)!.map((x) => x.cpuUs));
      console.log(`  ${n.padEnd(28)} ${Math.round(med(n)).toString().padStart(8)} msg/s   server CPU ${cpu.toFixed(1)} µs/msg`);
    }
    const vsConnect = med("ws transport /ws (oneport)") / med("connect-node bidi h2");
    const vsEcho = med("ws transport /ws (oneport)") / med("raw ws echo");
    console.log(`  ws transport / connect-node bidi h2: ${vsConnect.toFixed(2)}x (target >= 2)  ${vsConnect >= 2 ? "met" : "MISSED"}`);
    console.log(`  ws transport / raw ws echo:          ${vsEcho.toFixed(2)}x (target >= 0.5)  ${vsEcho >= 0.5 ? "met" : "MISSED"}`);
  } finally {
    await wsTransport.close();
    for (const c of Object.values(children)) c.proc.kill("SIGTERM");
  }
}
