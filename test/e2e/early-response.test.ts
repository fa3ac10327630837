import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { describe, it } from "node:test";
import { startServer } from "../support/server.js";

// A streaming call rejected early (first message over the size limit) must not leave the client
// blocked on HTTP/2 flow control with a request body nobody reads.
const { url } = await startServer({ limits: { maxMessageBytes: 1024 } });

/** Starts an upload far larger than the HTTP/2 windows; resolves with what came back once the stream closed. */
function oversizedUpload(headers: http2.OutgoingHttpHeaders) {
  return new Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; rstCode: number; body: string }>((resolve, reject) => {
    const session = http2.connect(url);
    const req = session.request({ ":method": "POST", ":path": "/example.ExampleService/CollectNames", ...headers });
    let res: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    let body = "";
    req.on("response", (h) => (res = h));
    req.on("trailers", (t) => (trailers = t));
    req.on("data", (d: Buffer) => (body += d.toString("latin1")));
    req.on("error", () => undefined); // the outcome is read from rstCode below
    req.on("close", () => {
      session.close();
      resolve({ headers: res, trailers, rstCode: req.rstCode ?? -1, body });
    });
    session.on("error", reject);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(4 * 1024 * 1024, 1);
    req.write(prefix);
    req.write(Buffer.alloc(4 * 1024 * 1024)); // never fully accepted by a server that stopped reading
  });
}

describe("a response that ends before its request body", { timeout: 20_000 }, () => {
  it("gives a gRPC client RESOURCE_EXHAUSTED and ends the stream without error", async () => {
    const r = await oversizedUpload({ "content-type": "application/grpc", te: "trailers" });
    const status = r.trailers["grpc-status"] ?? r.headers["grpc-status"];
    assert.equal(status, "8", JSON.stringify(r));
    assert.equal(r.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  });

  it("gives a Connect streaming client its end-of-stream error and ends the stream without error", async () => {
    const r = await oversizedUpload({ "content-type": "application/connect+proto" });
    assert.equal(r.headers[":status"], 200);
    assert.match(r.body, /resource_exhausted/);
    assert.equal(r.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  });
});
