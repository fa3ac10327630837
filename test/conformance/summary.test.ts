import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { protocolOf, tally } from "./summary.js";

describe("conformance summary", () => {
  it("takes the protocol from the Protocol segment of a test name", () => {
    assert.equal(protocolOf("Basic/HTTPVersion:2/Protocol:PROTOCOL_GRPC_WEB/Codec:CODEC_PROTO/unary/success"), "grpc-web");
    assert.equal(protocolOf("Basic/HTTPVersion:1/Protocol:PROTOCOL_GRPC/Codec:CODEC_JSON/unary/success"), "grpc");
    assert.equal(protocolOf("Errors/HTTPVersion:1/Protocol:PROTOCOL_CONNECT/TLS:false/unary/error"), "connect");
  });

  it("falls back to the suite name for protocol-specific suites", () => {
    assert.equal(protocolOf("gRPC-Web Unexpected Requests/HTTPVersion:2/TLS:true/unexpected-verb"), "grpc-web");
    assert.equal(protocolOf("gRPC Unexpected Requests/HTTPVersion:2/TLS:false/unexpected-verb"), "grpc");
    assert.equal(protocolOf("Connect Unexpected Requests/HTTPVersion:1/TLS:false/unexpected-verb"), "connect");
    assert.equal(protocolOf("Server Message Size/HTTPVersion:1/TLS:false/unary"), undefined);
  });

  it("counts sent cases as passed unless they failed, per protocol", () => {
    const out = [
      'Sending request for "Basic/HTTPVersion:2/Protocol:PROTOCOL_GRPC/unary/success"...',
      'Sending request for "Basic/HTTPVersion:2/Protocol:PROTOCOL_GRPC/server-stream/success"...',
      'Sending request for "Connect with GET/HTTPVersion:1/Protocol:PROTOCOL_CONNECT/get"...',
      "FAILED: Basic/HTTPVersion:2/Protocol:PROTOCOL_GRPC/server-stream/success:",
      "\tactual response trailers missing \"x-custom-trailer\"",
      "FAILED: gRPC-Web Unexpected Requests/HTTPVersion:2/TLS:false/unexpected-uri:",
    ].join("\n");
    const t = tally(out);
    assert.deepEqual(t.grpc, { passed: 1, total: 2 });
    assert.deepEqual(t.connect, { passed: 1, total: 1 });
    assert.deepEqual(t["grpc-web"], { passed: 0, total: 1 });
    assert.deepEqual(t.other, { passed: 0, total: 0 });
  });
});
