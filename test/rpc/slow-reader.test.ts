// A server-streaming RPC to an HTTP/2 client that stops reading and then resets the stream with
// NO_ERROR: the producer is held by flow control, and the reset cancels the call, on every protocol
// (gRPC and gRPC-Web take oneport's fast path, Connect streaming connect-node's handler).
import assert from "node:assert/strict";
import { connect as h2connect } from "node:http2";
import { after, describe, it } from "node:test";
import { exampleService } from "../../src/services/example.js";
import { producerSettled, transcodingService, type ServiceProbe } from "../rest/transcoding-service.js";
import { startServer } from "../support/server.js";

const probe: ServiceProbe = { yielded: 0, cancelled: 0 };
const { url } = await startServer({ services: [exampleService(), transcodingService(probe)] });

/** One length-prefixed JSON message, as gRPC, gRPC-Web and Connect streams frame it. */
function envelope(json: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(json));
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32BE(body.length, 1);
  body.copy(out, 5);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("server streams to an HTTP/2 client that stops reading", () => {
  for (const contentType of ["application/connect+json", "application/grpc+json", "application/grpc-web+json"]) {
    it(`holds the producer and cancels the call when a ${contentType} client resets the stream`, async () => {
      const before = probe.yielded;
      const cancelledBefore = probe.cancelled;
      const session = h2connect(url);
      after(() => session.destroy());
      const stream = session.request({ ":method": "POST", ":path": "/oneport.testing.v1.TranscodingService/Count", "content-type": contentType, te: "trailers" });
      stream.end(envelope({ n: 0, padding: 65536 })); // n 0: an endless stream
      const head = await new Promise<Record<string, unknown>>((resolve) => stream.once("response", resolve));
      assert.equal(head[":status"], 200);
      stream.pause(); // never read: the flow-control window fills and the server's writes wait
      await producerSettled(probe);
      const produced = probe.yielded - before;
      assert.ok(produced > 0 && produced < 400, `produced ${produced} messages for a reader that never read`);
      // RST_STREAM with NO_ERROR (Node's default), which Node's compat layer reports only as "aborted".
      stream.close();
      for (let waited = 0; probe.cancelled === cancelledBefore && waited < 30_000; waited += 20) await sleep(20);
      assert.equal(probe.cancelled, cancelledBefore + 1, "the reset cancels the call (its implementation sees an aborted signal)");
      assert.equal((await fetch(`${url}/v1/hello/Bob`)).status, 200, "the server keeps serving");
    });
  }
});
