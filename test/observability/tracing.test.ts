// The OpenTelemetry interceptor: one SERVER span per call on every protocol, with an in-memory exporter.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { propagation, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { startServer } from "../support/server.js";
import { connect } from "../ws/client.js";

// What an application's SDK setup would do: W3C traceparent in, spans to an exporter.
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer("oneport-test");

const spansNamed = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);

describe("tracing", () => {
  it("makes no spans unless enabled", async () => {
    exporter.reset();
    const { url } = await startServer({ tracing: { tracer } });
    assert.equal((await fetch(`${url}/v1/hello/Bob`)).status, 200);
    assert.equal(exporter.getFinishedSpans().length, 0);
  });

  it("makes one SERVER span per call with rpc.* attributes, on every protocol", async () => {
    exporter.reset();
    const { url } = await startServer({ tracing: { enabled: true, tracer } });
    await createClient(ExampleService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" })).sayHello({ name: "C" });
    await createClient(ExampleService, createGrpcTransport({ baseUrl: url })).sayHello({ name: "G" });
    const res = await fetch(`${url}/v1/hello/R/stream?count=2`);
    assert.equal(res.status, 200);
    await res.text();
    const ws = await connect(url);
    ws.send({ id: "1", method: "example.ExampleService/SayHello", message: { name: "W" } });
    await ws.stream("1");

    const spans = spansNamed("example.ExampleService/SayHello");
    assert.deepEqual(spans.map((s) => s.attributes["oneport.protocol"]).sort(), ["connect", "grpc", "ws"]);
    for (const s of spans) {
      assert.equal(s.kind, SpanKind.SERVER);
      assert.equal(s.attributes["rpc.service"], "example.ExampleService");
      assert.equal(s.attributes["rpc.method"], "SayHello");
      assert.equal(s.attributes["rpc.grpc.status_code"], 0);
      assert.equal(s.status.code, SpanStatusCode.UNSET);
    }
    assert.equal(spans.find((s) => s.attributes["oneport.protocol"] === "connect")?.attributes["rpc.system"], "connect_rpc");
    assert.equal(spans.find((s) => s.attributes["oneport.protocol"] === "grpc")?.attributes["rpc.system"], "grpc");
    const [stream] = spansNamed("example.ExampleService/SayHelloStream");
    assert.equal(stream.attributes["oneport.protocol"], "rest");
    assert.equal(stream.attributes["rpc.grpc.status_code"], 0);
  });

  it("continues the client's trace from a traceparent header", async () => {
    exporter.reset();
    const { url } = await startServer({ tracing: { enabled: true, tracer } });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    await fetch(`${url}/v1/hello/T`, { headers: { traceparent: `00-${traceId}-${parentId}-01` } }).then((r) => r.text());
    const [span] = spansNamed("example.ExampleService/SayHello");
    assert.equal(span.spanContext().traceId, traceId);
    assert.equal(span.parentSpanContext?.spanId, parentId);
  });

  it("marks server faults (DEADLINE_EXCEEDED) as errors, and leaves client mistakes (INVALID_ARGUMENT) unset", async () => {
    exporter.reset();
    const { url } = await startServer({ tracing: { enabled: true, tracer } });
    const client = createClient(ExampleService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
    const bad = await client.sayHello({ name: "" }).then(() => assert.fail("expected an error"), (e: unknown) => ConnectError.from(e));
    assert.equal(bad.code, Code.InvalidArgument);
    // Only the server's clock runs out (a client-side timer would race it with a reset of its own).
    const late = await fetch(`${url}/v1/hello/D/stream?count=3&intervalMs=5000`, { headers: { "grpc-timeout": "200m" } }).then((r) => r.text());
    assert.deepEqual(JSON.parse(late.trim().split("\n").at(-1)!).error.code, Code.DeadlineExceeded);
    // The stream's span ends when the server's stream does, which may be just after the client saw the error.
    while (spansNamed("example.ExampleService/SayHelloStream").length === 0) await new Promise((r) => setTimeout(r, 10));
    const [hello] = spansNamed("example.ExampleService/SayHello");
    assert.equal(hello.attributes["rpc.grpc.status_code"], Code.InvalidArgument);
    assert.equal(hello.status.code, SpanStatusCode.UNSET);
    const [stream] = spansNamed("example.ExampleService/SayHelloStream");
    assert.equal(stream.attributes["rpc.grpc.status_code"], Code.DeadlineExceeded);
    assert.equal(stream.status.code, SpanStatusCode.ERROR);
    assert.doesNotMatch(stream.status.message ?? "", /at |\.ts:/, "no stack in the span status");
  });
});
