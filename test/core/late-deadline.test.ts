// A handler that ignores its AbortSignal and answers after the deadline: the client gets
// DEADLINE_EXCEEDED at the deadline on every protocol (the Pipeline ends the call from its timer, as
// grpc-js's server does), the late answer is dropped, and the call is logged and counted once, as
// DeadlineExceeded. Deadlines travel as headers or frame fields without a client-side timer (or come
// from limits.unaryTimeoutMs), so only the server can enforce them.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { createGrpcJsClient } from "../../src/client/grpc-js.js";
import { service } from "../../src/config.js";
import { ExampleService, type HelloResponse } from "../../src/gen/example/example_pb.js";
import { exampleService } from "../../src/services/example.js";
import { eventually } from "../attack/support.js";
import { scrape, valueOf } from "../observability/prom.js";
import { startServer } from "../support/server.js";
import { connect } from "../ws/client.js";

const DEADLINE = 300;
// Without the fix the handler's answer would come at this point instead of never.
const HANDLER_GIVES_UP_MS = 5_000;

interface Latch {
  promise: Promise<void>;
  resolve: () => void;
}
function latch(): Latch {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Handlers wait here, ignoring their signal, until the test lets them go (or HANDLER_GIVES_UP_MS). */
const gates = new Map<string, { started: Latch; release: () => void; finished: Latch }>();
function gate(name: string) {
  let g = gates.get(name);
  if (!g) gates.set(name, (g = { started: latch(), release: () => {}, finished: latch() }));
  return g;
}
async function hold(name: string): Promise<void> {
  const g = gate(name);
  g.started.resolve();
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, HANDLER_GIVES_UP_MS);
    g.release = () => (clearTimeout(t), resolve());
  });
}

const logs: Array<Record<string, unknown>> = [];
const logger = pino(
  { level: "debug" },
  new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split("\n")) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  }),
);

const example = exampleService().impl as Record<string, unknown>;
const { url, port } = await startServer({
  logger,
  limits: { unaryTimeoutMs: DEADLINE },
  services: [
    service(ExampleService, {
      ...example,
      async sayHello(req) {
        try {
          await hold(req.name);
          return { message: `late ${req.name}` };
        } finally {
          gate(req.name).finished.resolve();
        }
      },
      async *sayHelloStream(req) {
        yield { message: `first ${req.name}` };
        await hold(req.name);
        // Nobody reads past this yield: the generator stays suspended there.
        gate(req.name).finished.resolve();
        yield { message: `late ${req.name}` };
      },
    }),
  ],
});

// What the server recorded about one call: its log lines, and the handled counter by code.
async function assertEndedOnceAsDeadline(name: string, protocol: string, method: "SayHello" | "SayHelloStream", before: Counts) {
  const g = gate(name);
  g.release();
  await g.finished.promise;
  // The late outcome is noticed (and dropped) right after the handler finishes.
  await eventually(() => logs.some((l) => l.method === `example.ExampleService/${method}` && l.protocol === protocol && /after the call ended; dropped/.test(String(l.msg))), "the late result was logged at debug");
  const after = await counts(protocol, method);
  assert.deepEqual({ deadline: after.deadline - before.deadline, ok: after.ok - before.ok, other: after.other - before.other }, { deadline: 1, ok: 0, other: 0 }, "counted once, as DeadlineExceeded");
  const lines = logs.filter((l) => l.msg === "call" && l.protocol === protocol && l.method === `example.ExampleService/${method}`);
  assert.deepEqual(
    lines.slice(before.lines).map((l) => l.code),
    ["deadline_exceeded"],
    "logged once, as deadline_exceeded",
  );
}

interface Counts {
  deadline: number;
  ok: number;
  other: number;
  lines: number;
}
async function counts(protocol: string, method: string): Promise<Counts> {
  const s = await scrape(url);
  const labels = { protocol, service: "example.ExampleService", method };
  const all = valueOf(s, "oneport_server_handled_total", labels);
  const deadline = valueOf(s, "oneport_server_handled_total", { ...labels, code: "DeadlineExceeded" });
  const ok = valueOf(s, "oneport_server_handled_total", { ...labels, code: "OK" });
  const lines = logs.filter((l) => l.msg === "call" && l.protocol === protocol && l.method === `example.ExampleService/${method}`).length;
  return { deadline, ok, other: all - deadline - ok, lines };
}

const codeOf = (p: Promise<unknown>) => p.then(() => assert.fail("expected DEADLINE_EXCEEDED, got the late answer"), (e: unknown) => ConnectError.from(e).code);

describe("a handler that ignores its signal past the deadline", { timeout: 60_000 }, () => {
  it("gets DEADLINE_EXCEEDED to a grpc-js client at limits.unaryTimeoutMs, not its late answer", async () => {
    const client = createGrpcJsClient(ExampleService, `127.0.0.1:${port}`);
    after(() => client.close());
    const before = await counts("grpc", "SayHello");
    // No deadline on the client: only the server's default can end this call.
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      (client.sayHello as (r: object, cb: (e: grpc.ServiceError | null, r: HelloResponse) => void) => void)({ name: "grpc-js" }, (e) => resolve(e)),
    );
    assert.equal(err?.code, grpc.status.DEADLINE_EXCEEDED, String(err));
    await assertEndedOnceAsDeadline("grpc-js", "grpc", "SayHello", before);
  });

  const unary: Array<[string, string, Transport, Record<string, string>]> = [
    ["Connect over HTTP/1.1 (connect-timeout-ms)", "connect", createConnectTransport({ baseUrl: url, httpVersion: "1.1" }), { "connect-timeout-ms": String(DEADLINE) }],
    ["Connect over HTTP/2 (connect-timeout-ms)", "connect", createConnectTransport({ baseUrl: url, httpVersion: "2" }), { "connect-timeout-ms": String(DEADLINE) }],
    ["gRPC-Web (grpc-timeout)", "grpc-web", createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }), { "grpc-timeout": `${DEADLINE}m` }],
    ["gRPC (grpc-timeout)", "grpc", createGrpcTransport({ baseUrl: url }), { "grpc-timeout": `${DEADLINE}m` }],
  ];
  for (const [title, protocol, transport, headers] of unary) {
    it(`gets DEADLINE_EXCEEDED over ${title}, not the late answer`, async () => {
      const name = `unary ${title}`;
      const before = await counts(protocol, "SayHello");
      const code = await codeOf(createClient(ExampleService, transport).sayHello({ name }, { headers }));
      assert.equal(code, Code.DeadlineExceeded);
      await assertEndedOnceAsDeadline(name, protocol, "SayHello", before);
    });
  }

  it("answers REST with 504 DEADLINE_EXCEEDED (grpc-timeout header), not the late answer", async () => {
    const name = "rest";
    const before = await counts("rest", "SayHello");
    const res = await fetch(`${url}/v1/hello/${name}`, { headers: { "grpc-timeout": `${DEADLINE}m` } });
    const body = (await res.json()) as { code: number };
    assert.equal(res.status, 504, JSON.stringify(body));
    assert.equal(body.code, Code.DeadlineExceeded);
    await assertEndedOnceAsDeadline(name, "rest", "SayHello", before);
  });

  it("ends a /ws call with deadline_exceeded (timeout_ms) and logs and counts it so", async () => {
    const name = "ws";
    const before = await counts("ws", "SayHello");
    const c = await connect(url);
    c.send({ id: "1", method: "example.ExampleService/SayHello", message: { name }, timeout_ms: DEADLINE });
    const frames = await c.stream("1");
    assert.equal(frames.at(-1)?.status?.code, "deadline_exceeded");
    await assertEndedOnceAsDeadline(name, "ws", "SayHello", before);
    c.close();
  });

  describe("a server stream stuck in an await", () => {
    const streams: Array<[string, string, Transport, Record<string, string>]> = [
      ["gRPC (grpc-timeout)", "grpc", createGrpcTransport({ baseUrl: url }), { "grpc-timeout": `${DEADLINE}m` }],
      ["gRPC-Web (grpc-timeout)", "grpc-web", createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }), { "grpc-timeout": `${DEADLINE}m` }],
      // Connect streams are served by connect-node: the Pipeline's deadline interceptor ends them.
      ["Connect over HTTP/2 (connect-timeout-ms)", "connect", createConnectTransport({ baseUrl: url, httpVersion: "2" }), { "connect-timeout-ms": String(DEADLINE) }],
    ];
    for (const [title, protocol, transport, headers] of streams) {
      it(`ends with DEADLINE_EXCEEDED over ${title} after the messages it sent`, async () => {
        const name = `stream ${title}`;
        const before = await counts(protocol, "SayHelloStream");
        const got: string[] = [];
        const code = await codeOf(
          (async () => {
            for await (const r of createClient(ExampleService, transport).sayHelloStream({ name }, { headers })) got.push(r.message);
          })(),
        );
        assert.equal(code, Code.DeadlineExceeded);
        assert.deepEqual(got, [`first ${name}`]);
        await assertEndedOnceAsDeadline(name, protocol, "SayHelloStream", before);
      });
    }

    it("ends a REST NDJSON stream with a DEADLINE_EXCEEDED error line", async () => {
      const name = "rest-stream";
      const before = await counts("rest", "SayHelloStream");
      const res = await fetch(`${url}/v1/hello/${name}/stream`, { headers: { "grpc-timeout": `${DEADLINE}m` } });
      const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l) as { result?: HelloResponse; error?: { code: number } });
      assert.equal(lines.length, 2, JSON.stringify(lines));
      assert.equal(lines[0].result?.message, `first ${name}`);
      assert.equal(lines[1].error?.code, Code.DeadlineExceeded);
      await assertEndedOnceAsDeadline(name, "rest", "SayHelloStream", before);
    });

    it("ends a /ws stream with deadline_exceeded after its first message", async () => {
      const name = "ws-stream";
      const before = await counts("ws", "SayHelloStream");
      const c = await connect(url);
      c.send({ id: "s", method: "example.ExampleService/SayHelloStream", message: { name }, timeout_ms: DEADLINE });
      const frames = await c.stream("s");
      assert.deepEqual(frames.map((f) => (f.message as HelloResponse | undefined)?.message ?? f.status?.code), [`first ${name}`, "deadline_exceeded"]);
      await assertEndedOnceAsDeadline(name, "ws", "SayHelloStream", before);
      c.close();
    });
  });

  it("still answers calls that finish in time on the same server", async () => {
    const name = "in time";
    const p = createClient(ExampleService, createGrpcTransport({ baseUrl: url })).sayHello({ name }, { headers: { "grpc-timeout": "30S" } });
    await gate(name).started.promise;
    gate(name).release();
    assert.equal((await p).message, `late ${name}`);
  });
});
