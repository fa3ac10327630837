import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HelloRequestSchema } from "../../src/gen/example/example_pb.js";
import { startServer } from "../support/server.js";
import { connect } from "./client.js";

// Receive limit 1 KiB, send limit 2 KiB: the two are separate on /ws as on every other protocol.
const { url } = await startServer({ limits: { maxMessageBytes: 1024, maxSendMessageBytes: 2048 } });

describe("WebSocket message limits (binary frames)", { timeout: 20_000 }, () => {
  async function collect(id: string, names: string[]) {
    const c = await connect(url, { format: "proto" });
    names.forEach((name, i) => c.send({ id, ...(i === 0 ? { method: "example.ExampleService/CollectNames" } : {}), message: { name }, end: i === names.length - 1 }, HelloRequestSchema));
    const fs = await c.stream(id);
    return fs[fs.length - 1].status;
  }

  it("sends a response over the receive limit but under the send limit", async () => {
    // Each request about 600 bytes; the answer about 1.2 KB.
    assert.equal((await collect("a", ["a".repeat(600), "b".repeat(600)]))?.code, "ok");
  });

  it("ends the stream with resource_exhausted when the response is over the send limit", async () => {
    // The answer about 2.4 KB, over the 2 KiB send limit.
    const status = await collect("b", ["a".repeat(600), "b".repeat(600), "c".repeat(600), "d".repeat(600)]);
    assert.equal(status?.code, "resource_exhausted");
    assert.match(status?.message ?? "", /exceeds the limit of 2048 bytes/);
  });
});

describe("WebSocket message limits (JSON frames)", { timeout: 20_000 }, () => {
  async function hello(id: string, name: string) {
    const c = await connect(url, { format: "json" });
    c.send({ id, method: "example.ExampleService/SayHello", message: { name } });
    const fs = await c.stream(id);
    c.close();
    return fs[fs.length - 1].status;
  }

  it("takes a frame over the receive limit whose message is under it", async () => {
    // {"name":"x…"} is 1001 bytes; the frame with its id and method is over 1 KiB.
    assert.equal((await hello("c", "x".repeat(990)))?.code, "ok");
  });

  it("answers resource_exhausted to a message over the receive limit, as Connect JSON does", async () => {
    const status = await hello("d", "x".repeat(1100));
    assert.equal(status?.code, "resource_exhausted");
    assert.match(status?.message ?? "", /exceeds the limit of 1024 bytes/);
  });
});
