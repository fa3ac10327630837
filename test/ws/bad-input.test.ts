import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { FrameSchema } from "../../src/gen/oneport/ws/v1/frame_pb.js";
import { startServer } from "../support/server.js";
import { connect, type WsClient } from "./client.js";

const MAX_FRAME = 4096;
const { url } = await startServer({ ws: { maxFrameBytes: MAX_FRAME } });

const sayHello = (id: string, name = "Bob") => ({ id, method: "example.ExampleService/SayHello", message: { name } });

// The connection still serves calls after a bad frame.
async function stillServes(c: WsClient, id = "after") {
  c.send(sayHello(id, "Still"));
  const [f] = await c.stream(id);
  assert.deepEqual(f.message, { message: "Hello, Still" });
}

describe("WebSocket bridge bad input", { timeout: 20_000 }, () => {
  it("answers plain text with an error frame that shows a valid frame to copy, and stays open", async () => {
    const c = await connect(url);
    c.raw("hello");
    const [err] = await c.idless();
    assert.equal(err.id, undefined);
    assert.equal(err.status?.code, "invalid_argument");
    assert.match(err.status?.message ?? "", /not a JSON frame: "hello"/);
    assert.deepEqual(err.example, sayHello("1"));
    // The example really is a frame to copy.
    c.raw(JSON.stringify(err.example));
    const [ok] = await c.stream("1");
    assert.deepEqual(ok.message, { message: "Hello, Bob" });
  });

  it("answers JSON that is not an object with an id-less error", async () => {
    const c = await connect(url);
    c.raw("[1,2]");
    const [err] = await c.idless();
    assert.match(err.status?.message ?? "", /a frame is a JSON object/);
    await stillServes(c);
  });

  it("answers a frame without id with an id-less error", async () => {
    const c = await connect(url);
    c.raw(JSON.stringify({ method: "example.ExampleService/SayHello", message: { name: "Bob" } }));
    const [err] = await c.idless();
    assert.equal(err.status?.code, "invalid_argument");
    assert.match(err.status?.message ?? "", /no "id"/);
    await stillServes(c);
  });

  it("answers a numeric id with an id-less error that asks for a string", async () => {
    const c = await connect(url);
    c.raw(JSON.stringify({ id: 1, method: "example.ExampleService/SayHello" }));
    const [err] = await c.idless();
    assert.match(err.status?.message ?? "", /"id" must be a string/);
    await stillServes(c);
  });

  it("refuses a duplicate id without disturbing the open stream of that id", async () => {
    const c = await connect(url);
    c.send({ id: "dup", method: "example.ExampleService/SayHelloStream", message: { name: "Ann", count: 2, intervalMs: 300 } });
    c.send(sayHello("dup"));
    const [err] = await c.idless();
    assert.match(err.status?.message ?? "", /stream "dup" is already open/);
    const fs = await c.stream("dup");
    assert.deepEqual(fs.map((f) => f.message).filter(Boolean), [{ message: "Hello, Ann (1/2)" }, { message: "Hello, Ann (2/2)" }]);
    assert.equal(fs.at(-1)?.status?.code, "ok");
  });

  it("ends a stream for an unknown method with unimplemented", async () => {
    const c = await connect(url);
    c.send({ id: "u", method: "example.ExampleService/Nope", message: {} });
    const fs = await c.stream("u");
    assert.equal(fs.length, 1);
    assert.equal(fs[0].status?.code, "unimplemented");
    assert.match(fs[0].status?.message ?? "", /unknown method "example.ExampleService\/Nope"/);
    await stillServes(c);
  });

  it("ends a stream whose message is not valid JSON for its type with invalid_argument", async () => {
    const c = await connect(url);
    c.send({ id: "m1", method: "example.ExampleService/SayHello", message: { nme: "Bob" } });
    c.send({ id: "m2", method: "example.ExampleService/SayHello", message: { name: 42 } });
    const [a] = await c.stream("m1");
    const [b] = await c.stream("m2");
    assert.equal(a.status?.code, "invalid_argument");
    assert.match(a.status?.message ?? "", /example.HelloRequest.*"nme"/);
    assert.equal(b.status?.code, "invalid_argument");
    await stillServes(c);
  });

  it("fails only the stream whose later frame is bad; other streams go on", async () => {
    const c = await connect(url);
    c.send({ id: "good", method: "example.ExampleService/Chatter" });
    c.send({ id: "bad", method: "example.ExampleService/Chatter" });
    c.send({ id: "bad", message: { name: ["not", "a", "string"] } });
    const bad = await c.stream("bad");
    assert.equal(bad.at(-1)?.status?.code, "invalid_argument");
    c.send({ id: "good", message: { name: "G" }, end: true });
    const good = await c.stream("good");
    assert.deepEqual(good.map((f) => f.message).filter(Boolean), [{ message: "Hello, G" }]);
    assert.equal(good.at(-1)?.status?.code, "ok");
  });

  it("fails an oversized frame's own stream with resource_exhausted and keeps the connection", async () => {
    const c = await connect(url);
    c.send({ id: "live", method: "example.ExampleService/Chatter" });
    c.send({ id: "big", method: "example.ExampleService/SayHello", message: { name: "x".repeat(MAX_FRAME) } });
    const [big] = await c.stream("big");
    assert.equal(big.status?.code, "resource_exhausted");
    assert.match(big.status?.message ?? "", /exceeds the limit of 4096 bytes/);
    // An oversized later frame of an open stream fails that stream.
    c.send({ id: "live", message: { name: "y".repeat(MAX_FRAME) } });
    const live = await c.stream("live");
    assert.equal(live.at(-1)?.status?.code, "resource_exhausted");
    await stillServes(c);
  });

  it("refuses server-only and unknown fields", async () => {
    const c = await connect(url);
    c.raw(JSON.stringify({ id: "s", method: "example.ExampleService/SayHello", status: { code: "ok" } }));
    c.raw(JSON.stringify({ id: "t", method: "example.ExampleService/SayHello", mesage: { name: "typo" } }));
    const [s] = await c.stream("s");
    const [t] = await c.stream("t");
    assert.match(s.status?.message ?? "", /"status" is sent by the server only/);
    assert.match(t.status?.message ?? "", /unknown frame field "mesage"/);
    await stillServes(c);
  });

  it("answers a frame for a stream that is not open with an id-less error", async () => {
    const c = await connect(url);
    c.send({ id: "ghost", message: { name: "Bob" } });
    const [err] = await c.idless();
    assert.match(err.status?.message ?? "", /no open stream "ghost"/);
    // A cancel for a stream that already ended is harmless and answered by nothing.
    c.send({ id: "ghost", cancel: true });
    await stillServes(c);
    assert.equal((await c.idless()).length, 1);
  });

  it("refuses binary frames on a JSON connection and text frames on a binary one", async () => {
    const j = await connect(url);
    j.raw(Buffer.from([1, 2, 3]));
    assert.match((await j.idless())[0].status?.message ?? "", /speaks oneport.json.v1/);
    await stillServes(j);
    const p = await connect(url, { format: "proto" });
    p.raw("hello");
    assert.match((await p.idless())[0].status?.message ?? "", /speaks oneport.proto.v1/);
    p.raw(Buffer.from([0xff, 0xff, 0xff]));
    assert.match((await p.idless(2))[1].status?.message ?? "", /not a oneport.ws.v1.Frame/);
    // The binary error frame also carries a copyable example, encoded in binary.
    const ex = (await p.idless())[0].example;
    assert.equal(ex?.method, "example.ExampleService/SayHello");
    p.ws.send(toBinary(FrameSchema, create(FrameSchema, { id: "ex", method: ex?.method, message: ex?.message as Uint8Array })));
    const [ok] = await p.stream("ex");
    assert.equal(ok.status?.code, "ok");
  });

  it("refuses a request message on a unary stream after its first frame", async () => {
    const c = await connect(url);
    c.send({ id: "slow", method: "example.ExampleService/SayHelloStream", message: { name: "A", count: 2, intervalMs: 10_000 } });
    c.send({ id: "slow", message: { name: "again" } });
    const fs = await c.stream("slow");
    assert.equal(fs.at(-1)?.status?.code, "invalid_argument");
    assert.match(fs.at(-1)?.status?.message ?? "", /takes no more requests/);
  });
});
