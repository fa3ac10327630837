// Shared pieces of the fuzz tests: the time budget (FUZZ_SECONDS), seed replay (FUZZ_SEED/FUZZ_PATH),
// mutators that corrupt valid seeds, a real server whose logger records crashes, and raw clients.
import assert from "node:assert/strict";
import { Agent, request as httpRequest } from "node:http";
import * as http2 from "node:http2";
import { connect as tcpConnect } from "node:net";
import { Writable } from "node:stream";
import { after } from "node:test";
import fc from "fast-check";
import pino from "pino";
import type { ServerOptions } from "../../src/config.js";
import { startServer, type TestServer } from "../support/server.js";

/** Generous per-exchange deadline: only a hang trips it, never a slow but working server. */
export const HANG_MS = 15_000;

const seconds = Number(process.env.FUZZ_SECONDS ?? "");
const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

/**
 * fast-check parameters for one property: `runs` runs within `ms` by default; with FUZZ_SECONDS=N
 * every property runs for N seconds instead (no run cap). FUZZ_SEED and FUZZ_PATH replay a failure
 * that fast-check printed ("seed: ..., path: ...").
 */
export function budget<T>(runs: number, ms: number, examples: T[] = []): fc.Parameters<T> {
  const long = Number.isFinite(seconds) && seconds > 0;
  return {
    numRuns: long ? 1_000_000_000 : runs,
    interruptAfterTimeLimit: long ? seconds * 1000 : ms,
    markInterruptAsFailure: false,
    seed,
    path: process.env.FUZZ_PATH,
    examples,
  };
}

// ---------------------------------------------------------------------------------------------
// Mutators: corruptions of valid seeds, the way coverage-blind fuzzers (radamsa, AFL havoc) do it.

/** Byte values that often hit edge cases in parsers. */
const interesting = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x0d, 0x22, 0x25, 0x2f, 0x3a, 0x3d, 0x7b, 0x7d];
/** 32-bit values for length fields: zero, tiny, huge, sign bit. */
const interestingU32 = [0, 1, 2, 4, 5, 127, 128, 255, 256, 65535, 65536, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

type Op =
  | { k: "flip"; at: number; x: number }
  | { k: "set"; at: number; v: number }
  | { k: "insert"; at: number; bytes: Uint8Array }
  | { k: "delete"; at: number; n: number }
  | { k: "truncate"; at: number }
  | { k: "dup"; at: number; n: number }
  | { k: "u32"; at: number; v: number; delta: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant("flip" as const), at: fc.nat(), x: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ k: fc.constant("set" as const), at: fc.nat(), v: fc.oneof(fc.constantFrom(...interesting), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ k: fc.constant("insert" as const), at: fc.nat(), bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.constantFrom(...interesting).map((b) => Uint8Array.of(b))) }),
  fc.record({ k: fc.constant("delete" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ k: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ k: fc.constant("dup" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ k: fc.constant("u32" as const), at: fc.nat(), v: fc.constantFrom(...interestingU32), delta: fc.integer({ min: -2, max: 2 }) }),
);

/** Applies one mutation; `lengthAt` are offsets of 32-bit big-endian length fields to aim "u32" at. */
function apply(b: Uint8Array, o: Op, lengthAt: number[]): Uint8Array {
  const n = b.length;
  switch (o.k) {
    case "flip":
      if (n === 0) return b;
      return withByte(b, o.at % n, b[o.at % n] ^ o.x);
    case "set":
      if (n === 0) return b;
      return withByte(b, o.at % n, o.v);
    case "insert": {
      const at = o.at % (n + 1);
      return concat(b.subarray(0, at), o.bytes, b.subarray(at));
    }
    case "delete": {
      if (n === 0) return b;
      const at = o.at % n;
      return concat(b.subarray(0, at), b.subarray(at + o.n));
    }
    case "truncate":
      return b.subarray(0, o.at % (n + 1));
    case "dup": {
      if (n === 0) return b;
      const at = o.at % n;
      const piece = b.subarray(at, at + o.n);
      return concat(b.subarray(0, at + piece.length), piece, b.subarray(at + piece.length));
    }
    case "u32": {
      // Aim at a known length field when there is one, else anywhere.
      const at = lengthAt.length > 0 ? lengthAt[o.at % lengthAt.length] : n >= 4 ? o.at % (n - 3) : -1;
      if (at < 0 || at + 4 > n) return b;
      const out = Uint8Array.from(b);
      const cur = new DataView(out.buffer).getUint32(at);
      // Either a landmark value or the real length nudged by one or two (off-by-one lengths).
      const v = o.delta === 0 ? o.v : (cur + o.delta) >>> 0;
      new DataView(out.buffer).setUint32(at, v);
      return out;
    }
  }
}

function withByte(b: Uint8Array, at: number, v: number): Uint8Array {
  const out = Uint8Array.from(b);
  out[at] = v;
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Valid seeds corrupted by 1 to `maxOps` mutations (flips, truncations, insertions, length-field corruption). */
export function mutated(seeds: fc.Arbitrary<Uint8Array> | Uint8Array[], opts: { maxOps?: number; lengthAt?: number[] } = {}): fc.Arbitrary<Uint8Array> {
  const from = Array.isArray(seeds) ? fc.constantFrom(...seeds) : seeds;
  return fc.tuple(from, fc.array(op, { minLength: 1, maxLength: opts.maxOps ?? 4 })).map(([s, ops]) => ops.reduce((b, o) => apply(b, o, opts.lengthAt ?? []), s));
}

/** Mutated strings (through their UTF-8 bytes, then back; broken sequences become U+FFFD). */
export function mutatedText(seeds: string[], opts: { maxOps?: number } = {}): fc.Arbitrary<string> {
  return mutated(seeds.map((s) => new TextEncoder().encode(s)), opts).map((b) => Buffer.from(b).toString("utf8"));
}

/** Mutated strings kept in latin1 (one byte per char): for HTTP/1.1 request heads. */
export function mutatedLatin1(seeds: string[], opts: { maxOps?: number } = {}): fc.Arbitrary<Buffer> {
  return mutated(seeds.map((s) => Buffer.from(s, "latin1")), opts).map((b) => Buffer.from(b));
}

// Any code point (lone surrogates included). fast-check's own unit "binary" costs seconds to build.
const anyChar = fc.nat(0x10ffff).map((cp) => String.fromCodePoint(cp));

/** Random bytes that lean on the characters a given grammar gives meaning to. */
export function junkText(alphabet: string, maxLength = 40): fc.Arbitrary<string> {
  return fc.string({ unit: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...alphabet) }, { weight: 1, arbitrary: anyChar }), maxLength });
}

// ---------------------------------------------------------------------------------------------
// A real server that records what its logger saw: an error-level record during fuzzing is a bug.

/** One pino record (parsed). */
export type LogRecord = { level: number; msg: string; [k: string]: unknown };

/** A test server plus the log records at warn level and above. */
export interface FuzzServer extends TestServer {
  logs: LogRecord[];
  /** Fails if the server logged an error (an exception that escaped into "internal error", a crash). */
  assertNoCrash(): void;
}

// Exceptions and rejections nobody handled, in this process (the server runs in it). The test runner
// reports them too, but against whichever test happens to run; these name them in the file's check.
const escaped: string[] = [];
process.on("uncaughtException", (e) => escaped.push(`uncaught exception: ${String(e)}`));
process.on("unhandledRejection", (e) => escaped.push(`unhandled rejection: ${String(e)}`));

/**
 * A keep-alive HTTP/1.1 agent (one socket, so every call reuses it) and one HTTP/2 session, made
 * again when the server rightly closed it; both closed, and the server checked for crashes, after the file.
 */
export function fuzzClients(srv: FuzzServer): { agent: Agent; h2session(): http2.ClientHttp2Session } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let session: http2.ClientHttp2Session | undefined;
  after(() => {
    agent.destroy();
    session?.close();
    srv.assertNoCrash();
  });
  return {
    agent,
    h2session() {
      if (session === undefined || session.closed || session.destroyed) {
        session = http2.connect(srv.url);
        session.on("error", () => undefined);
      }
      return session;
    },
  };
}

/** Starts a real server on port 0 (closed after the file) whose error logs are captured. */
export async function startFuzzServer(opts: Partial<ServerOptions> = {}): Promise<FuzzServer> {
  const logs: LogRecord[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") logs.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  const logger = pino({ level: "warn" }, sink);
  const s = await startServer({ ...opts, logger });
  return {
    ...s,
    logs,
    assertNoCrash() {
      const bad = logs.filter((r) => r.level >= 50);
      assert.deepEqual(bad, [], "the server logged errors while being fuzzed");
      assert.deepEqual(escaped, [], "exceptions escaped while fuzzing");
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Raw clients.

/**
 * Writes bytes on a fresh TCP connection and returns everything the server sent until it closed.
 * With `patienceMs`, a connection the server keeps open that long is closed by the client and what
 * arrived is returned (an HTTP/2 server rightly waits for the rest of a frame whose length lies).
 */
export function tcpExchange(port: number, bytes: Uint8Array, opts: { endAfterWrite?: boolean; patienceMs?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(port, "127.0.0.1", () => {
      s.write(bytes);
      if (opts.endAfterWrite) s.end();
    });
    const chunks: Buffer[] = [];
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("close", () => resolve(Buffer.concat(chunks)));
    // A reset is a valid answer to garbage: what arrived before it still counts.
    s.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" || e.code === "EPIPE" ? undefined : reject(e)));
    if (opts.patienceMs !== undefined) {
      const t = setTimeout(() => s.destroy(), opts.patienceMs);
      s.once("close", () => clearTimeout(t));
    } else s.setTimeout(HANG_MS, () => s.destroy(new Error(`the server neither answered nor closed within ${HANG_MS} ms`)));
  });
}

/** An HTTP/2 answer: status, headers, trailers and body. */
export interface H2Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
  /** Set when the stream was reset instead of answered (RST_STREAM code). */
  rstCode?: number;
}

/** One HTTP/2 request on an existing session. */
export function h2call(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Uint8Array): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ":method": "POST", ...headers });
    let res: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      req.close(http2.constants.NGHTTP2_CANCEL);
      reject(new Error(`no answer within ${HANG_MS} ms`));
    }, HANG_MS);
    req.on("response", (h) => (res = h));
    req.on("trailers", (t) => (trailers = t));
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("close", () => {
      clearTimeout(timer);
      resolve({ status: Number(res[":status"] ?? 0), headers: res, trailers, body: Buffer.concat(chunks), rstCode: req.rstCode || undefined });
    });
    req.on("error", () => undefined); // a reset surfaces through 'close' and rstCode
    req.end(body === undefined ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });
}

/** A 5-byte gRPC envelope around bytes. */
export function envelope(bytes: Uint8Array, flags = 0): Uint8Array {
  const b = new Uint8Array(5 + bytes.length);
  b[0] = flags;
  new DataView(b.buffer).setUint32(1, bytes.length);
  b.set(bytes, 5);
  return b;
}

/** An HTTP/1.1 answer. */
export interface H1Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTP/1.1 request through `agent` (a keep-alive agent with one socket reuses the connection). */
export function h1call(agent: Agent, port: number, method: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<H1Answer> {
  return new Promise((resolve, reject) => {
    // An explicit length: Node sends GET and DELETE bodies unframed otherwise (read as a next request).
    const framed = body === undefined ? headers : { ...headers, "content-length": String(body.byteLength) };
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers: framed, agent, timeout: HANG_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${HANG_MS} ms`)));
    req.on("error", reject);
    req.end(body === undefined ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });
}

/** Splits a body into 5-byte-prefixed envelopes; throws if the framing is broken. */
export function envelopes(body: Buffer): Array<{ flags: number; data: Buffer }> {
  const out: Array<{ flags: number; data: Buffer }> = [];
  for (let at = 0; at < body.length; ) {
    assert.ok(body.length - at >= 5, `a truncated envelope header at ${at} of ${body.length}`);
    const len = body.readUInt32BE(at + 1);
    assert.ok(body.length - at - 5 >= len, `a truncated envelope at ${at} of ${body.length}`);
    out.push({ flags: body[at], data: body.subarray(at + 5, at + 5 + len) });
    at += 5 + len;
  }
  return out;
}

/** Asserts that an error message reaching a client leaks nothing: no stack, no escaped "internal error". */
export function assertClean(message: string, what: string): void {
  assert.doesNotMatch(message, /\n\s+at |\.ts:\d+|node_modules/, `${what}: internals in ${JSON.stringify(message)}`);
  assert.doesNotMatch(message, /^internal error/, `${what}: an exception escaped into ${JSON.stringify(message)}`);
}
