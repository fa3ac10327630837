import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encodeGrpcMessage } from "../../src/rpc/wire.js";

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
