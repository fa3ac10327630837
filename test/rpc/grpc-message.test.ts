import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { createGrpcJsClient } from "../../src/client/grpc-js.js";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { encodeGrpcMessage } from "../../src/rpc/wire.js";
import { startServer } from "../support/server.js";

const { port } = await startServer();

describe("grpc-message percent-encoding (gRPC over HTTP/2 spec)", () => {
  it("leaves printable ASCII other than % as it is, so decodeURI-based clients (grpc-js) show it", () => {
    assert.equal(encodeGrpcMessage("unknown method a.B/C: see /openapi.json"), "unknown method a.B/C: see /openapi.json");
    assert.equal(encodeGrpcMessage("100% done\nnext"), "100%25 done%0Anext");
    assert.equal(encodeGrpcMessage("naïve ✓"), "na%C3%AFve %E2%9C%93");
  });

  it("round-trips any well-formed string through decodeURIComponent and emits only printable ASCII", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (s) => {
        const e = encodeGrpcMessage(s);
        assert.match(e, /^[\x20-\x7e]*$/);
        assert.equal(decodeURIComponent(e), s);
      }),
      { numRuns: 500 },
    );
  });
});

// Calls connect-node serves (client and bidi streams over gRPC) used its encodeURIComponent: grpc-js
// (decodeURI, which leaves reserved characters encoded) showed "%3A" for every ":" to its users.
// Both paths now send the same text.
describe("grpc-message as grpc-js shows it, on the fast path and on connect-node's", () => {
  const client = createGrpcJsClient(ExampleService, `127.0.0.1:${port}`);
  const expected = 'name must not be empty: send HelloRequest{name: "Bob"}';
  type Err = { code: number; details: string };
  const call = client as unknown as Record<string, (...a: unknown[]) => { write(m: object): void; end(): void; on(e: string, f: (x: unknown) => void): void }>;

  it("unary SayHello (fast path)", async () => {
    const err = await new Promise<Err>((resolve) => call.sayHello({ name: "" }, (e: unknown) => resolve(e as Err)));
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(err.details, expected);
  });

  it("client stream CollectNames (connect-node)", async () => {
    const err = await new Promise<Err>((resolve) => {
      const c = call.collectNames((e: unknown) => resolve(e as Err));
      c.write({ name: "" });
      c.end();
    });
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(err.details, expected);
  });

  it("bidi Chatter (connect-node), failing after a first answer and at once (trailers-only)", async () => {
    for (const names of [["Ann", ""], [""]]) {
      const err = await new Promise<Err>((resolve) => {
        const c = call.chatter();
        c.on("data", () => {});
        c.on("error", (e) => resolve(e as Err));
        for (const name of names) c.write({ name });
        c.end();
      });
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(err.details, expected, `names ${JSON.stringify(names)}`);
    }
  });

  after(() => client.close());
});
