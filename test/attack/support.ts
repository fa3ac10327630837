// Shared pieces of the attack tests: a probe that makes real calls the way users do, and what the
// kernel says about the server's sockets.
import { readFileSync } from "node:fs";
import * as net from "node:net";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ExampleService } from "../../src/gen/example/example_pb.js";

const transports = new Map<string, Record<string, Transport>>();

/** Real clients, one pair per server URL: gRPC over HTTP/2 and Connect over HTTP/1.1 (`ca` trusts a TLS server's certificate). */
export function probeTransports(url: string, ca?: Buffer): Record<string, Transport> {
  let t = transports.get(url);
  if (!t) {
    const nodeOptions = ca ? { ca } : {};
    t = { "grpc h2": createGrpcTransport({ baseUrl: url, nodeOptions }), "connect h1": createConnectTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions }) };
    transports.set(url, t);
  }
  return t;
}

/** Makes one SayHello per probe transport; throws unless each answers "Hello, <name>". */
export async function probe(url: string, name = "probe", ca?: Buffer): Promise<void> {
  for (const [proto, t] of Object.entries(probeTransports(url, ca))) {
    const res = await createClient(ExampleService, t).sayHello({ name }, { timeoutMs: 20_000 });
    if (res.message !== `Hello, ${name}`) throw new Error(`${proto} probe got ${JSON.stringify(res.message)}`);
  }
}

/** Keeps probing until `stop` resolves; resolves with the number of successful rounds, rejects on the first failure. */
export async function probeWhile(url: string, stop: Promise<unknown>, ca?: Buffer): Promise<number> {
  let done = false;
  void stop.finally(() => (done = true));
  let rounds = 0;
  // At least one round, even when the attack ends first: it ran while the attacker's sockets were open.
  do {
    await probe(url, `p${rounds}`, ca);
    rounds++;
  } while (!done);
  return rounds;
}

/**
 * Server-side sockets of `port` that still hold a file descriptor (ESTABLISHED or CLOSE_WAIT), from
 * /proc/net/tcp{,6}: the kernel's view, whatever the server thinks it has.
 */
export function serverSockets(port: number): number {
  let n = 0;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "latin1");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4) continue;
      const local = f[1].split(":")[1];
      if (local && parseInt(local, 16) === port && (f[3] === "01" || f[3] === "08")) n++;
    }
  }
  return n;
}

/** Polls `pred` every `everyMs` until it holds, failing after `limitMs` (a bound for a stuck test, not a timing assertion). */
export async function eventually(pred: () => boolean, what: string, limitMs = 30_000, everyMs = 50): Promise<void> {
  const end = Date.now() + limitMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`still not true after ${limitMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A raw TCP connection that records what the server sent and when it closed. */
export class RawConn {
  readonly socket: net.Socket;
  data = "";
  closed = false;
  private closedP: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => (this.data += d));
    socket.on("error", () => {});
    this.closedP = new Promise((r) => socket.once("close", () => ((this.closed = true), r())));
  }

  /** Opens a connection to 127.0.0.1:port. */
  static open(port: number): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => resolve(new RawConn(s)));
      s.once("error", reject);
    });
  }

  /** Writes unless the socket is gone. */
  write(b: string | Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(b);
  }

  /** Resolves once the server has closed the connection (or it was reset). */
  untilClosed(): Promise<void> {
    return this.closedP;
  }

  /** Writes `bytes` one at a time every `everyMs` until the server closes the connection. */
  async trickle(bytes: string | Buffer, everyMs: number): Promise<number> {
    const b = typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes;
    let i = 0;
    while (!this.closed && i < b.length) {
      this.write(b.subarray(i, ++i));
      await new Promise((r) => setTimeout(r, everyMs));
    }
    return i;
  }
}
