import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type HandlerContext } from "@connectrpc/connect";
import { service } from "../../src/config.js";
import { ChatService } from "../../src/gen/chat/v1/chat_pb.js";
import { ExampleService, type HelloRequest } from "../../src/gen/example/example_pb.js";
import { startServer } from "../support/server.js";
import { countingWebSocket, pushable, wsTransport } from "./support.js";

const { url } = await startServer();

// An ExampleService that exercises metadata, details and cancellation where the example one cannot.
const cancelled: string[] = [];
const tricky = service(ExampleService, {
  sayHello(req: HelloRequest, ctx: HandlerContext) {
    ctx.responseHeader.set("x-echo", ctx.requestHeader.get("x-ping") ?? "none");
    ctx.responseTrailer.set("x-trailer", "t1");
    if (req.name === "fail") {
      throw new ConnectError("slow down", Code.ResourceExhausted, { "x-retry": "later" }, [{ desc: DurationSchema, value: { seconds: 7n } }]);
    }
    return { message: `hi ${req.name}` };
  },
  async *sayHelloStream(req, ctx) {
    yield { message: "first" };
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
    cancelled.push(req.name);
  },
  async collectNames() {
    return { message: "" };
  },
  async *chatter() {},
});
const trickyServer = await startServer({ services: [tricky] });

for (const format of ["binary", "json"] as const) {
  describe(`createWebSocketTransport() with ${format} frames`, () => {
    const sockets = countingWebSocket();
    const transport = wsTransport(url, { useBinaryFormat: format === "binary", WebSocket: sockets.WebSocket });
    const client = createClient(ExampleService, transport);
    after(() => transport.close());

    it("connects lazily, on the first call", async () => {
      assert.equal(transport.state, "idle");
      assert.equal(sockets.opened(), 0);
      assert.equal((await client.sayHello({ name: "Bob" })).message, "Hello, Bob");
      assert.equal(transport.state, "open");
    });

    it("streams responses of a server-streaming method", async () => {
      const got: string[] = [];
      for await (const r of client.sayHelloStream({ name: "Ann", count: 3 })) got.push(r.message);
      assert.deepEqual(got, ["Hello, Ann (1/3)", "Hello, Ann (2/3)", "Hello, Ann (3/3)"]);
    });

    it("sends a client stream and gets one answer", async () => {
      const names = pushable<{ name: string }>();
      const res = client.collectNames(names);
      names.push({ name: "A" });
      names.push({ name: "B" });
      names.end();
      assert.equal((await res).message, "Hello, A, B");
    });

    it("answers each bidi request before the next one is sent", async () => {
      const input = pushable<{ name: string }>();
      const it = client.chatter(input)[Symbol.asyncIterator]();
      for (const name of ["X", "Y", "Z"]) {
        input.push({ name });
        assert.equal((await it.next()).value?.message, `Hello, ${name}`);
      }
      input.end();
      assert.equal((await it.next()).done, true);
    });

    it("runs 100 concurrent calls of all kinds over one socket", async () => {
      const calls = Array.from({ length: 100 }, async (_, i) => {
        switch (i % 4) {
          case 0:
            return (await client.sayHello({ name: `u${i}` })).message === `Hello, u${i}`;
          case 1: {
            const got: string[] = [];
            for await (const r of client.sayHelloStream({ name: `s${i}`, count: 2 })) got.push(r.message);
            return got.length === 2 && got[1] === `Hello, s${i} (2/2)`;
          }
          case 2:
            return (await client.collectNames((async function* () { yield { name: `c${i}` }; yield { name: "z" }; })())).message === `Hello, c${i}, z`;
          default: {
            const got: string[] = [];
            for await (const r of client.chatter((async function* () { yield { name: `b${i}` }; })())) got.push(r.message);
            return got.join() === `Hello, b${i}`;
          }
        }
      });
      assert.deepEqual(await Promise.all(calls), Array(100).fill(true));
      assert.equal(sockets.opened(), 1);
    });

    it("raises server errors as ConnectError with their code and message", async () => {
      const err = await client.sayHello({ name: "" }).catch((e: unknown) => ConnectError.from(e));
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.InvalidArgument);
      assert.match(err.rawMessage, /name must not be empty/);
    });

    it("raises UNIMPLEMENTED for a method the server does not serve", async () => {
      const chat = createClient(ChatService, transport);
      const err = await chat.history({ room: "r" }).catch((e: unknown) => ConnectError.from(e));
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.Unimplemented);
    });

    it("ends a call with DEADLINE_EXCEEDED when timeoutMs passes", async () => {
      const got: string[] = [];
      const err = await (async () => {
        for await (const r of client.sayHelloStream({ name: "T", count: 5, intervalMs: 5_000 }, { timeoutMs: 100 })) got.push(r.message);
      })().catch((e: unknown) => ConnectError.from(e));
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.DeadlineExceeded);
      assert.deepEqual(got, ["Hello, T (1/5)"]);
      // The socket outlives the call: the next one uses it.
      assert.equal((await client.sayHello({ name: "after" })).message, "Hello, after");
      assert.equal(sockets.opened(), 1);
    });
  });
}

describe("createWebSocketTransport() metadata, details and cancellation", () => {
  const transport = wsTransport(trickyServer.url);
  const client = createClient(ExampleService, transport);
  after(() => transport.close());

  it("sends request headers and returns response headers and trailers", async () => {
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const res = await client.sayHello({ name: "m" }, { headers: { "x-ping": "pong" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) });
    assert.equal(res.message, "hi m");
    assert.equal(header?.get("x-echo"), "pong");
    assert.equal(trailer?.get("x-trailer"), "t1");
  });

  it("carries error details and error metadata", async () => {
    const err = await client.sayHello({ name: "fail" }).catch((e: unknown) => ConnectError.from(e));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.ResourceExhausted);
    assert.equal(err.rawMessage, "slow down");
    assert.equal(err.metadata.get("x-retry"), "later");
    const [d] = err.findDetails(DurationSchema);
    assert.deepEqual(d, create(DurationSchema, { seconds: 7n }));
  });

  it("cancels a call on the server when its AbortSignal fires", async () => {
    const ac = new AbortController();
    const got: string[] = [];
    const err = await (async () => {
      for await (const r of client.sayHelloStream({ name: "abort-me" }, { signal: ac.signal })) {
        got.push(r.message);
        ac.abort();
      }
    })().catch((e: unknown) => ConnectError.from(e));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.Canceled);
    assert.deepEqual(got, ["first"]);
    // The cancel frame reached the implementation: its signal fired. Wait for the proof, boundedly.
    for (let i = 0; i < 100 && !cancelled.includes("abort-me"); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(cancelled.includes("abort-me"));
  });

  it("runs client interceptors around every call, which may add headers", async () => {
    const seen: string[] = [];
    const t = wsTransport(trickyServer.url, {
      interceptors: [
        (next) => async (req) => {
          seen.push(`${req.method.name} ${req.stream ? "stream" : "unary"}`);
          req.header.set("x-ping", "from-interceptor");
          return next(req);
        },
      ],
    });
    after(() => t.close());
    let header: Headers | undefined;
    await createClient(ExampleService, t).sayHello({ name: "i" }, { onHeader: (h) => (header = h) });
    assert.deepEqual(seen, ["SayHello unary"]);
    assert.equal(header?.get("x-echo"), "from-interceptor");
  });

  it("fails a call whose signal is already aborted without sending it", async () => {
    const err = await client.sayHello({ name: "x" }, { signal: AbortSignal.abort() }).catch((e: unknown) => ConnectError.from(e));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.Canceled);
  });
});

// maxMessageBytes holds in both formats (it was checked for binary frames only).
describe("createWebSocketTransport() maxMessageBytes", () => {
  for (const useBinaryFormat of [true, false]) {
    const format = useBinaryFormat ? "binary" : "JSON";
    it(`refuses to send or take a message over the limit in ${format} frames, with RESOURCE_EXHAUSTED`, async () => {
      const transport = wsTransport(url, { useBinaryFormat, maxMessageBytes: 1000 });
      after(() => transport.close());
      const client = createClient(ExampleService, transport);
      const fail = (p: Promise<unknown>) => p.then(() => "ok", (e: unknown) => `${Code[ConnectError.from(e).code]}: ${ConnectError.from(e).rawMessage}`);
      assert.match(await fail(client.sayHello({ name: "a".repeat(2000) })), /^ResourceExhausted: message sent of \d+ bytes is larger than maxMessageBytes \(1000\)/);
      // A request just under the limit whose answer ("Hello, " + name) is just over it.
      // (The answer is 7 bytes longer than the name plus framing: 3 bytes in protobuf, 14 in JSON.)
      assert.match(await fail(client.sayHello({ name: "a".repeat(useBinaryFormat ? 995 : 985) })), /^ResourceExhausted: message received of \d+ bytes/);
      assert.equal((await client.sayHello({ name: "a".repeat(900) })).message, `Hello, ${"a".repeat(900)}`);
      // Counted in bytes, not characters: 600 two-byte characters are over 1000 bytes.
      assert.match(await fail(client.sayHello({ name: "é".repeat(600) })), /^ResourceExhausted: message sent/);
    });
  }
});

describe("createWebSocketTransport() options", () => {
  for (const [name, opts, message] of [
    ["a default deadline given as a string", { defaultTimeoutMs: "100" }, /defaultTimeoutMs must be a number of milliseconds, got "100"/],
    ["a fractional stream count", { maxConcurrentStreams: 2.5 }, /maxConcurrentStreams must be a whole number, got 2.5/],
    ["a first backoff longer than the longest", { reconnectInitialDelayMs: 10_000, reconnectMaxDelayMs: 10 }, /reconnectInitialDelayMs \(10000\) must not exceed reconnectMaxDelayMs \(10\)/],
    ["a negative message limit", { maxMessageBytes: -1 }, /maxMessageBytes must be a number >= 1, got -1/],
  ] as const) {
    it(`refuses ${name}, naming the option`, () => {
      assert.throws(() => wsTransport(url, opts as never), message);
    });
  }

  it("takes a default deadline of 0 or less as none", async () => {
    const transport = wsTransport(url, { defaultTimeoutMs: -5 });
    after(() => transport.close());
    assert.equal((await createClient(ExampleService, transport).sayHello({ name: "Ann" })).message, "Hello, Ann");
  });
});
