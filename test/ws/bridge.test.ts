import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { protocolKey } from "../../src/core/pipeline.js";
import { HelloRequestSchema, HelloResponseSchema, HelloStreamRequestSchema } from "../../src/gen/example/example_pb.js";
import { startServer } from "../support/server.js";
import { connect, type Got } from "./client.js";

// Echoes what the call saw back as response headers, so the tests can check metadata and protocol.
const echoMetadata: Interceptor = (next) => async (req) => {
  const res = await next(req);
  res.header.set("x-saw-authorization", req.header.get("authorization") ?? "");
  res.header.set("x-saw-cookie", req.header.get("cookie") ?? "");
  res.header.set("x-saw-protocol", req.contextValues.get(protocolKey));
  return res;
};

const { url } = await startServer({ interceptors: [echoMetadata] });

for (const format of ["json", "proto"] as const) {
  // Response messages as text, whichever encoding carried them.
  const text = (f: Got) => (format === "json" ? (f.message as { message: string }).message : fromBinary(HelloResponseSchema, f.message as Uint8Array).message);
  const messages = (fs: Got[]) => fs.filter((f) => f.message !== undefined).map(text);
  const final = (fs: Got[]) => {
    const ends = fs.filter((f) => f.end);
    assert.equal(ends.length, 1, "exactly one final frame");
    assert.equal(fs.at(-1), ends[0], "the final frame comes last");
    return ends[0];
  };

  describe(`WebSocket bridge over ${format === "json" ? "oneport.json.v1" : "oneport.proto.v1"}`, { timeout: 20_000 }, () => {
    it("answers a unary call with one frame carrying the message and the ok status", async () => {
      const c = await connect(url, { format });
      c.send({ id: "1", method: "example.ExampleService/SayHello", message: { name: "Bob" } }, HelloRequestSchema);
      const fs = await c.stream("1");
      assert.deepEqual(messages(fs), ["Hello, Bob"]);
      assert.equal(fs.length, 1);
      assert.equal(final(fs).status?.code, "ok");
    });

    it("streams every response of a server-streaming call, then ok", async () => {
      const c = await connect(url, { format });
      c.send({ id: "s", method: "/example.ExampleService/SayHelloStream", message: { name: "Ann", count: 3 } }, HelloStreamRequestSchema);
      const fs = await c.stream("s");
      assert.deepEqual(messages(fs), ["Hello, Ann (1/3)", "Hello, Ann (2/3)", "Hello, Ann (3/3)"]);
      assert.equal(final(fs).status?.code, "ok");
    });

    it("reads a client stream until the client half-closes", async () => {
      const c = await connect(url, { format });
      c.send({ id: "c", method: "example.ExampleService/CollectNames", message: { name: "A" } }, HelloRequestSchema);
      c.send({ id: "c", message: { name: "B" } }, HelloRequestSchema);
      c.send({ id: "c", message: { name: "C" }, end: true }, HelloRequestSchema);
      const fs = await c.stream("c");
      assert.deepEqual(messages(fs), ["Hello, A, B, C"]);
      assert.equal(final(fs).status?.code, "ok");
    });

    it("answers each request of a bidi stream as it arrives", async () => {
      const c = await connect(url, { format });
      c.send({ id: "b", method: "example.ExampleService/Chatter" });
      c.send({ id: "b", message: { name: "X" } }, HelloRequestSchema);
      await c.until((fs) => fs.some((f) => f.id === "b" && f.message !== undefined));
      assert.deepEqual(messages(c.frames), ["Hello, X"], "the first answer arrives before the client sends more");
      c.send({ id: "b", message: { name: "Y" } }, HelloRequestSchema);
      c.send({ id: "b", end: true });
      const fs = await c.stream("b");
      assert.deepEqual(messages(fs), ["Hello, X", "Hello, Y"]);
      assert.equal(final(fs).status?.code, "ok");
    });

    it("ends a failing call with the implementation's code and message", async () => {
      const c = await connect(url, { format });
      c.send({ id: "e", method: "example.ExampleService/SayHello", message: { name: "" } }, HelloRequestSchema);
      const fs = await c.stream("e");
      assert.equal(fs.length, 1);
      assert.equal(fs[0].message, undefined);
      assert.equal(fs[0].status?.code, "invalid_argument");
      assert.match(fs[0].status?.message ?? "", /name must not be empty/);
    });

    it("multiplexes 100 interleaved bidi streams on one connection", async () => {
      const c = await connect(url, { format });
      const ids = Array.from({ length: 100 }, (_, i) => `bidi-${i}`);
      for (const id of ids) c.send({ id, method: "example.ExampleService/Chatter" });
      for (let round = 0; round < 3; round++) for (const id of ids) c.send({ id, message: { name: `${id}.${round}` } }, HelloRequestSchema);
      for (const id of ids) c.send({ id, end: true });
      for (const id of ids) {
        const fs = await c.stream(id);
        assert.deepEqual(messages(fs), [0, 1, 2].map((r) => `Hello, ${id}.${r}`));
        assert.equal(final(fs).status?.code, "ok");
      }
    });

    it("cancels a stream on request and ends it with canceled", async () => {
      const c = await connect(url, { format });
      c.send({ id: "x", method: "example.ExampleService/SayHelloStream", message: { name: "Slow", count: 5, intervalMs: 10_000 } }, HelloStreamRequestSchema);
      await c.until((fs) => fs.some((f) => f.id === "x"));
      c.send({ id: "x", cancel: true });
      const fs = await c.stream("x");
      assert.deepEqual(messages(fs), ["Hello, Slow (1/5)"]);
      assert.equal(final(fs).status?.code, "canceled");
      // The id is free again once the stream ended.
      c.send({ id: "x", method: "example.ExampleService/SayHello", message: { name: "Again" } }, HelloRequestSchema);
      await c.until((all) => all.filter((f) => f.id === "x" && f.end).length === 2);
      assert.equal(messages(c.frames.filter((f) => f.id === "x")).at(-1), "Hello, Again");
    });

    it("ends a stream with deadline_exceeded when its timeout_ms passes", async () => {
      const c = await connect(url, { format });
      c.send({ id: "d", method: "example.ExampleService/SayHelloStream", message: { name: "Late", count: 3, intervalMs: 10_000 }, timeout_ms: 50 }, HelloStreamRequestSchema);
      const fs = await c.stream("d");
      assert.equal(final(fs).status?.code, "deadline_exceeded");
    });

    it("passes upgrade headers and frame headers (frame wins) through the interceptors", async () => {
      const c = await connect(url, { format, options: { headers: { authorization: "Bearer upgrade", cookie: "session=abc" } } });
      c.send({ id: "1", method: "example.ExampleService/SayHello", message: { name: "Bob" } }, HelloRequestSchema);
      c.send({ id: "2", method: "example.ExampleService/SayHello", headers: { Authorization: "Bearer frame" }, message: { name: "Bob" } }, HelloRequestSchema);
      const [one] = await c.stream("1");
      const [two] = await c.stream("2");
      assert.equal(one.headers?.["x-saw-authorization"], "Bearer upgrade");
      assert.equal(one.headers?.["x-saw-cookie"], "session=abc");
      assert.equal(one.headers?.["x-saw-protocol"], "ws");
      assert.equal(two.headers?.["x-saw-authorization"], "Bearer frame");
      assert.equal(two.headers?.["x-saw-cookie"], "session=abc");
    });
  });
}

