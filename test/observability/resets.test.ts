// A client that resets its HTTP/2 stream (RST_STREAM) mid-call has cancelled it, whatever error code
// it sends: the call is counted and logged as Canceled, never as an internal failure of the server.
// connect-node (which serves Connect streams) maps the code as a client would (INTERNAL_ERROR ->
// INTERNAL); the error guard turns it back (src/core/errors.ts, resetByClient).
import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import { describe, it } from "node:test";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import pino from "pino";
import { service } from "../../src/config.js";
import { ExampleService, HelloRequestSchema, HelloStreamRequestSchema } from "../../src/gen/example/example_pb.js";
import { envelope } from "../../src/rpc/wire.js";
import { startServer } from "../support/server.js";
import { valueOf, type Scrape } from "./prom.js";
import { example, scrapeUntil } from "./support.js";

const lines: Array<{ level: number; msg: string; code?: string }> = [];
const logger = pino({ level: "debug" }, { write: (l: string) => void lines.push(JSON.parse(l)) });
const { url } = await startServer({ logger });
// A server whose SayHelloStream sends fast, counting the implementations still running.
let running = 0;
const fastServer = await startServer({
  logger,
  services: [
    service(ExampleService, {
      async *sayHelloStream(req) {
        running++;
        try {
          for (let i = 0; i < req.count; i++) yield { message: req.name };
        } finally {
          running--;
        }
      },
    }),
  ],
});

const slow = create(HelloStreamRequestSchema, { name: "Slow", count: 100, intervalMs: 10_000 });
// The three HTTP/2 protocols' server streams (Connect goes through connect-node, gRPC and gRPC-Web take
// the fast path), and gRPC client and bidi streams (connect-node) whose request side stays open: a
// reset ends their input as if the client had finished, and the implementation returns normally.
const cases = [
  { protocol: "connect", method: "SayHelloStream", end: true, headers: { "content-type": "application/connect+json" }, body: envelope(0, Buffer.from(toJsonString(HelloStreamRequestSchema, slow))) },
  { protocol: "grpc", method: "SayHelloStream", end: true, headers: { "content-type": "application/grpc", te: "trailers" }, body: envelope(0, toBinary(HelloStreamRequestSchema, slow)) },
  { protocol: "grpc-web", method: "SayHelloStream", end: true, headers: { "content-type": "application/grpc-web+proto" }, body: envelope(0, toBinary(HelloStreamRequestSchema, slow)) },
  { protocol: "grpc", method: "Chatter", end: false, headers: { "content-type": "application/grpc", te: "trailers" }, body: envelope(0, toBinary(HelloRequestSchema, create(HelloRequestSchema, { name: "Bo" }))) },
  { protocol: "grpc", method: "CollectNames", end: false, headers: { "content-type": "application/grpc", te: "trailers" }, body: envelope(0, toBinary(HelloRequestSchema, create(HelloRequestSchema, { name: "Bo" }))) },
];

describe("a client's RST_STREAM during a stream", () => {
  for (const { protocol, method, end, headers, body } of cases) {
    for (const code of ["NGHTTP2_INTERNAL_ERROR", "NGHTTP2_PROTOCOL_ERROR", "NGHTTP2_CANCEL", "NGHTTP2_NO_ERROR"] as const) {
      it(`${protocol} ${method}: reset with ${code} is counted and logged as Canceled`, async () => {
        const labels = example(protocol, method);
        const session = http2.connect(url);
        try {
          const handled = (s: Scrape, c?: string) => valueOf(s, "oneport_server_handled_total", c ? { ...labels, code: c } : labels);
          const started = (s: Scrape) => valueOf(s, "oneport_server_started_total", labels);
          const first = await scrapeUntil(url, () => true);
          const req = session.request({ ":method": "POST", ":path": `/example.ExampleService/${method}`, ...headers });
          req.on("error", () => {}); // our own reset
          if (end) req.end(body);
          else req.write(body);
          // The call is running on the server (a client stream answers nothing before its end).
          const before = await scrapeUntil(url, (s) => started(s) === started(first) + 1 && (method === "CollectNames" || valueOf(s, "oneport_server_msg_sent_total", labels) > valueOf(first, "oneport_server_msg_sent_total", labels)));
          lines.length = 0;
          req.close(http2.constants[code]);
          const after = await scrapeUntil(url, (s) => handled(s) === handled(before) + 1);
          assert.equal(handled(after, "Canceled") - handled(before, "Canceled"), 1, "counted as Canceled");
          assert.equal(handled(after, "Internal") - handled(before, "Internal"), 0, "not counted as Internal");
          const callLine = lines.find((l) => l.msg === "call" || l.msg === "call failed");
          assert.equal(callLine?.code, "canceled", `the call's log line: ${JSON.stringify(callLine)}`);
          assert.deepEqual(lines.filter((l) => l.level >= 50), [], "nothing logged as an error");
        } finally {
          session.destroy();
        }
      });
    }
  }
});

// A client that stops reading a fast stream and then resets it: the server is blocked writing (flow
// control), not waiting in the implementation, so the reset shows as a failed write (connect-node
// throws it into the response stream) or a closed stream (the fast path stops reading). Same answer:
// counted and logged once as Canceled, and the implementation is stopped (its finally block runs).
const fast = create(HelloStreamRequestSchema, { name: "x".repeat(50_000), count: 1000 });
const unread = [
  { protocol: "connect", headers: { "content-type": "application/connect+json" }, body: envelope(0, Buffer.from(toJsonString(HelloStreamRequestSchema, fast))) },
  { protocol: "grpc", headers: { "content-type": "application/grpc", te: "trailers" }, body: envelope(0, toBinary(HelloStreamRequestSchema, fast)) },
  { protocol: "grpc-web", headers: { "content-type": "application/grpc-web+proto" }, body: envelope(0, toBinary(HelloStreamRequestSchema, fast)) },
];

/** A SayHelloStream the client has stopped reading; `cut()` makes the client leave, `close()` cleans up. */
interface Unread {
  cut(): void;
  close(): void;
}

/** Polls (50 ms) until `pred` holds or 5 s passed. */
async function until(pred: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
}

/**
 * Opens an unread stream on fastServer, waits until the server sent what the client takes and waits
 * to write, cuts it, and checks the call is counted and logged once as Canceled, nothing is logged as
 * an error, and the implementation was stopped.
 */
async function cutWhileWriting(protocol: string, open: (url: string) => Promise<Unread>): Promise<void> {
  const url = fastServer.url;
  const labels = example(protocol, "SayHelloStream");
  const handled = (s: Scrape, c?: string) => valueOf(s, "oneport_server_handled_total", c ? { ...labels, code: c } : labels);
  const first = await scrapeUntil(url, () => true);
  const stream = await open(url);
  try {
    const before = await scrapeUntil(url, (s) => valueOf(s, "oneport_server_msg_sent_total", labels) > valueOf(first, "oneport_server_msg_sent_total", labels));
    assert.equal(handled(before), handled(first), "the stream is still running");
    lines.length = 0;
    stream.cut();
    const after = await scrapeUntil(url, (s) => handled(s) === handled(before) + 1);
    assert.equal(handled(after, "Canceled") - handled(before, "Canceled"), 1, "counted as Canceled");
    const callLines = () => lines.filter((l) => l.msg === "call" || l.msg === "call failed");
    await until(() => callLines().length > 0);
    assert.deepEqual(callLines().map((l) => l.code), ["canceled"], "logged once, as canceled");
    assert.deepEqual(lines.filter((l) => l.level >= 50), [], "nothing logged as an error");
    await until(() => running === 0);
    assert.equal(running, 0, `the implementation was stopped (${protocol})`);
  } finally {
    stream.close();
  }
}

describe("a client's RST_STREAM while the server waits to write", { timeout: 30_000 }, () => {
  for (const { protocol, headers, body } of unread) {
    it(`${protocol} SayHelloStream: counted and logged once as Canceled`, () =>
      cutWhileWriting(protocol, async (url) => {
        const session = http2.connect(url);
        const req = session.request({ ":method": "POST", ":path": "/example.ExampleService/SayHelloStream", ...headers });
        req.on("error", () => {});
        req.end(body);
        await new Promise((resolve) => req.once("response", resolve));
        req.pause();
        return { cut: () => req.close(http2.constants.NGHTTP2_CANCEL), close: () => session.destroy() };
      }));
  }
});

// The same over HTTP/1.1: the client stops reading and drops the connection. Connect and REST NDJSON.
const h1Cases = [
  { protocol: "connect", method: "POST", path: "/example.ExampleService/SayHelloStream", headers: { "content-type": "application/connect+json" }, body: envelope(0, Buffer.from(toJsonString(HelloStreamRequestSchema, fast))) },
  { protocol: "rest", method: "GET", path: `/v1/hello/${"x".repeat(8000)}/stream?count=1000`, headers: {}, body: undefined },
];

describe("a client that drops its HTTP/1.1 connection while the server waits to write", { timeout: 30_000 }, () => {
  for (const { protocol, method, path, headers, body } of h1Cases) {
    it(`${protocol} SayHelloStream: counted and logged once as Canceled, the implementation stopped`, () =>
      cutWhileWriting(protocol, async (url) => {
        const req = http.request(`${url}${path}`, { method, headers, agent: false });
        req.on("error", () => {});
        const res = await new Promise<http.IncomingMessage>((resolve) => {
          req.once("response", resolve);
          req.end(body);
        });
        res.pause();
        return { cut: () => req.destroy(), close: () => {} };
      }));
  }
});

// After a reset the call's answers and the stream errors the reset causes are the client's cancel,
// but a failure the reset cannot have caused is a bug of the server all the same: INTERNAL and an
// error log line, whether it came in the reset's turn or later.
describe("a bug that shows after the client's reset", () => {
  for (const later of [false, true]) {
    it(`gRPC Chatter throwing a TypeError ${later ? "a moment after" : "as soon as"} its input ended: counted as Internal, logged as an error`, async () => {
      const buggy = await startServer({
        logger,
        services: [
          service(ExampleService, {
            async *chatter(reqs) {
              for await (const r of reqs) yield { message: r.name };
              if (later) await new Promise((r) => setTimeout(r, 20)); // the reset is known by then
              throw new TypeError("a bug after the input ended");
            },
          }),
        ],
      });
      const labels = example("grpc", "Chatter");
      const handled = (s: Scrape, c?: string) => valueOf(s, "oneport_server_handled_total", c ? { ...labels, code: c } : labels);
      const before = await scrapeUntil(buggy.url, () => true);
      const session = http2.connect(buggy.url);
      try {
        const req = session.request({ ":method": "POST", ":path": "/example.ExampleService/Chatter", "content-type": "application/grpc", te: "trailers" });
        req.on("error", () => {});
        req.write(envelope(0, toBinary(HelloRequestSchema, create(HelloRequestSchema, { name: "Bo" }))));
        await new Promise((resolve) => req.once("data", resolve)); // the answer to the first message
        lines.length = 0;
        req.close(http2.constants.NGHTTP2_CANCEL);
        const after = await scrapeUntil(buggy.url, (s) => handled(s) === handled(before) + 1);
        assert.equal(handled(after, "Internal") - handled(before, "Internal"), 1, "counted as Internal");
        // As any internal failure: the error guard's line with the cause, the call's line with its code.
        const errors = lines.filter((l) => l.level >= 50) as Array<{ msg: string; code?: string; err?: { message?: string } }>;
        assert.deepEqual(
          errors.map((l) => [l.msg, l.code ?? l.err?.message]),
          [
            ["unexpected error in a call", "a bug after the input ended"],
            ["call failed", "internal"],
          ],
        );
      } finally {
        session.destroy();
      }
    });
  }
});
