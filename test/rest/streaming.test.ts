// Server streaming over REST: NDJSON read with fetch, SSE read with a real EventSource client,
// backpressure against a reader that stops reading.
import assert from "node:assert/strict";
import { request } from "node:http";
import { connect as h2connect } from "node:http2";
import { after, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { EventSource } from "eventsource";
import { TranscodingService } from "../../src/gen/oneport/testing/v1/transcoding_pb.js";
import { acceptQuality, streamFormat, type StreamFormat } from "../../src/rest/stream.js";
import { exampleService } from "../../src/services/example.js";
import { startServer } from "../support/server.js";
import { producerSettled, transcodingService, type ServiceProbe } from "./transcoding-service.js";

const probe: ServiceProbe = { yielded: 0, cancelled: 0 };
const { url } = await startServer({ services: [exampleService(), transcodingService(probe)] });
const client = createClient(TranscodingService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));

/** Reads an NDJSON body line by line from fetch's stream. */
async function ndjson(path: string): Promise<{ res: Response; lines: unknown[] }> {
  const res = await fetch(url + path);
  const lines: unknown[] = [];
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      lines.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  }
  assert.equal(buf, "", "the stream ends with a newline");
  return { res, lines };
}

/** Collects SSE events until `end` or a server `error` event. */
function sse(path: string): Promise<{ data: unknown[]; end?: unknown; error?: unknown }> {
  return new Promise((resolve, reject) => {
    const es = new EventSource(url + path);
    const data: unknown[] = [];
    es.onmessage = (e) => data.push(JSON.parse(e.data));
    es.addEventListener("end", (e) => {
      es.close();
      resolve({ data, end: JSON.parse(e.data) });
    });
    es.addEventListener("error", (e) => {
      es.close();
      const d = (e as MessageEvent).data;
      if (typeof d === "string") resolve({ data, error: JSON.parse(d) });
      else reject(new Error(`EventSource failed: ${String((e as { message?: string }).message)}`));
    });
  });
}

describe("REST server streaming", () => {
  it("streams newline-delimited JSON by default, one {result} per message, same as Connect", async () => {
    const { res, lines } = await ndjson("/v1/count/3");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-ndjson");
    const connect: number[] = [];
    for await (const m of client.count({ n: 3 })) connect.push(m.number);
    assert.deepEqual(lines, connect.map((number) => ({ result: { number } })));
  });

  it("ends an NDJSON stream that fails midway with an {error} line carrying the Status", async () => {
    const { lines } = await ndjson("/v1/count/5?failAfter=2");
    assert.deepEqual(lines.slice(0, 2), [{ result: { number: 1 } }, { result: { number: 2 } }]);
    assert.deepEqual(lines[2], { error: { code: Code.Aborted, message: "stopped after 2", details: [] } });
    assert.equal(lines.length, 3);
    const err = await (async () => {
      for await (const _ of client.count({ n: 5, failAfter: 2 }));
    })().then(() => assert.fail("expected an error"), (e: unknown) => ConnectError.from(e));
    assert.equal(err.code, Code.Aborted);
  });

  it("answers a stream that fails before its first message with a plain error status", async () => {
    const res = await fetch(`${url}/v1/hello//stream`);
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { code: number }).code, Code.InvalidArgument);
  });

  it("streams Server-Sent Events to an EventSource client and ends with event: end", async () => {
    const got = await sse("/v1/count/3");
    assert.deepEqual(got.data, [{ number: 1 }, { number: 2 }, { number: 3 }]);
    assert.deepEqual(got.end, { code: 0, message: "", details: [] });
  });

  it("ends a failing SSE stream with event: error carrying the Status", async () => {
    const got = await sse("/v1/count/5?fail_after=1");
    assert.deepEqual(got.data, [{ number: 1 }]);
    assert.deepEqual(got.error, { code: Code.Aborted, message: "stopped after 1", details: [] });
  });

  it("streams the course's SayHelloStream route as SSE", async () => {
    const got = await sse("/v1/hello/Ann/stream?count=2");
    assert.deepEqual(got.data, [{ message: "Hello, Ann (1/2)" }, { message: "Hello, Ann (2/2)" }]);
  });

  it("flushes each NDJSON message as it comes: the first arrives while the second is held back", async () => {
    let release!: () => void;
    probe.hold = new Promise<void>((r) => (release = r));
    try {
      const res = await fetch(`${url}/v1/count/2`);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      // The service sends message 2 only after this test saw message 1: no flush, no progress.
      let text = "";
      while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
      assert.equal(text, '{"result":{"number":1}}\n');
      release();
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
      assert.equal(text, '{"result":{"number":1}}\n{"result":{"number":2}}\n');
    } finally {
      release();
      probe.hold = undefined;
    }
  });

  it("flushes each SSE event as it comes: EventSource gets the first while the second is held back", async () => {
    let release!: () => void;
    probe.hold = new Promise<void>((r) => (release = r));
    try {
      const events: unknown[] = [];
      const done = new Promise<void>((resolve, reject) => {
        const es = new EventSource(`${url}/v1/count/2`);
        es.onmessage = (e) => {
          events.push(JSON.parse(e.data));
          if (events.length === 1) release();
        };
        es.addEventListener("end", () => (es.close(), resolve()));
        es.addEventListener("error", (e) => (es.close(), reject(new Error(String((e as MessageEvent).data)))));
      });
      await done;
      assert.deepEqual(events, [{ number: 1 }, { number: 2 }]);
    } finally {
      release();
      probe.hold = undefined;
    }
  });

  for (const accept of ["text/event-stream", "application/x-ndjson"]) {
    it(`opens a ${accept} stream before a slow first message, and cancels the call when the client leaves`, async () => {
      const cancelledBefore = probe.cancelled;
      const ctrl = new AbortController();
      // Without the early open, fetch would wait for the first message, a minute away.
      const res = await fetch(`${url}/v1/count/1?delayMs=60000`, { headers: { accept }, signal: ctrl.signal });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), accept);
      ctrl.abort();
      while (probe.cancelled === cancelledBefore) await new Promise((r) => setTimeout(r, 20));
    });
  }

  for (const accept of ["application/x-ndjson", "text/event-stream"]) {
    it(`holds the producer while a ${accept} client does not read, and cancels the call when it leaves`, async () => {
      const before = probe.yielded;
      const cancelledBefore = probe.cancelled;
      const u = new URL(url);
      const req = request({ host: u.hostname, port: u.port, path: "/v1/count/0?padding=65536", headers: { accept } });
      const res = await new Promise<import("node:http").IncomingMessage>((resolve) => req.on("response", resolve).end());
      res.pause(); // never read: the socket buffers fill up and write() starts returning false
      // Wait until the producer stops: the count is unchanged over several turns of the event loop.
      await producerSettled(probe);
      const produced = probe.yielded - before;
      // 64 KiB per message: 400 messages would be 25 MiB, far more than socket buffers hold.
      assert.ok(produced > 0 && produced < 400, `produced ${produced} messages for a reader that never read`);
      req.destroy();
      while (probe.cancelled === cancelledBefore) await new Promise((r) => setTimeout(r, 20));
      assert.equal(probe.cancelled, cancelledBefore + 1);
      assert.equal((await fetch(`${url}/v1/hello/Bob`)).status, 200, "the server keeps serving");
    });

    it(`holds the producer for an HTTP/2 ${accept} client that does not read, and cancels the call when it resets the stream`, async () => {
      const before = probe.yielded;
      const cancelledBefore = probe.cancelled;
      const session = h2connect(url);
      after(() => session.destroy());
      const stream = session.request({ ":path": "/v1/count/0?padding=65536", accept });
      stream.end();
      await new Promise((resolve) => stream.once("response", resolve));
      stream.pause(); // never read: the flow-control window fills and write() starts returning false
      await producerSettled(probe);
      const produced = probe.yielded - before;
      assert.ok(produced > 0 && produced < 400, `produced ${produced} messages for a reader that never read`);
      // RST_STREAM with NO_ERROR (Node's default), which Node's compat layer reports only as "aborted".
      stream.close();
      while (probe.cancelled === cancelledBefore) await new Promise((r) => setTimeout(r, 20));
      assert.equal(probe.cancelled, cancelledBefore + 1);
    });
  }
});

describe("acceptQuality()", () => {
  const cases: Array<[string, string, number]> = [
    ["text/event-stream", "text/event-stream", 1],
    ["TEXT/Event-Stream", "text/event-stream", 1],
    ["application/json, text/event-stream;q=0.5", "text/event-stream", 0.5],
    ["text/event-stream;q=0, */*", "text/event-stream", 0],
    ["text/*;q=0.3, */*;q=0.1", "text/event-stream", 0.3],
    ["text/*;q=0.3, text/event-stream;q=0.7", "text/event-stream", 0.7],
    ["*/*;q=0.2", "application/x-ndjson", 0.2],
    ["application/*;Q=0.4", "application/x-ndjson", 0.4],
    ["image/png", "text/event-stream", 0],
    ["", "text/event-stream", 0],
    [" , ,text/event-stream ; q=1.000 ,", "text/event-stream", 1],
    ['text/event-stream;charset="a,b;q=0";q=0.25', "text/event-stream", 0.25],
    ["text/event-stream;q=0.", "text/event-stream", 0],
    ["text/event-stream;q=1.001", "text/event-stream", -1],
    ["text/event-stream;q=2", "text/event-stream", -1],
    ["text/event-stream;q=0.5000", "text/event-stream", -1],
    ["text/event-stream;q=", "text/event-stream", -1],
    ["text/event-stream;charset", "text/event-stream", -1],
    ['text/event-stream;x="unclosed', "text/event-stream", -1],
    ["text/event-stream text/html", "text/event-stream", -1],
    ["text", "text/event-stream", -1],
    ["/event-stream", "text/event-stream", -1],
  ];
  for (const [accept, type, q] of cases) {
    it(`gives ${type} ${q} for ${JSON.stringify(accept)}`, () => {
      const [t, s] = type.split("/");
      assert.equal(acceptQuality(accept, t, s), q);
    });
  }

  it("ignores the match-all range when asked to", () => {
    assert.equal(acceptQuality("*/*", "text", "event-stream", false), 0);
    assert.equal(acceptQuality("*/*, text/*;q=0.5", "text", "event-stream", false), 0.5);
  });
});

// The REST stream format chosen for an Accept header: unit-checked, then over a real server.
const negotiation: Array<[string, StreamFormat]> = [
  ["text/event-stream", "sse"],
  ["TEXT/EVENT-STREAM", "sse"],
  ["text/event-stream;q=0, application/x-ndjson", "ndjson"],
  ["application/x-ndjson, text/event-stream;q=0.5", "ndjson"],
  ["application/json, text/event-stream;q=0.9", "ndjson"],
  ["application/json;q=0.9, text/event-stream", "sse"],
  ["text/event-stream, application/x-ndjson", "sse"],
  ["text/event-stream, */*", "sse"],
  ["text/event-stream;q=0.5, */*", "ndjson"],
  ["text/*", "sse"],
  ["*/*", "ndjson"],
  ["application/json", "ndjson"],
  ['text/event-stream;charset="a,b";q=0.8, application/json;q=0.5', "sse"],
  ["text/event-stream;q=2", "ndjson"],
  ["text/event-stream; charset", "ndjson"],
];

describe("REST stream format negotiation", () => {
  it("answers NDJSON without an Accept header", () => {
    assert.equal(streamFormat(undefined), "ndjson");
  });

  for (const [accept, format] of negotiation) {
    it(`picks ${format} for Accept: ${accept}`, () => assert.equal(streamFormat(accept), format));
  }

  for (const [accept, format] of negotiation) {
    it(`serves ${format} over HTTP for Accept: ${accept}`, async () => {
      const res = await fetch(`${url}/v1/hello/Ann/stream?count=2`, { headers: { accept } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), format === "sse" ? "text/event-stream" : "application/x-ndjson");
      const body = await res.text();
      assert.ok(format === "sse" ? body.startsWith("data: ") : body.startsWith('{"result":'), body);
    });
  }
});
