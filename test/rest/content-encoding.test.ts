// Compressed REST request bodies (Content-Encoding, RFC 9110 §8.4): gzip, deflate and br are undone
// before the body is read as JSON or handed to an HttpBody field, with the message limit on the
// decoded size; an unknown coding is 415 with Accept-Encoding, broken data 400. The server goes on.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { Code } from "@connectrpc/connect";
import { startServer } from "../support/server.js";
import { assertStatus, raw } from "./support.js";
import { transcodingService } from "./transcoding-service.js";

const { url } = await startServer({ services: [transcodingService()], limits: { maxMessageBytes: 1024 } });
const body = JSON.stringify({ id: "zipped", note: "n".repeat(300) });
const post = (encoding: string, bytes: Uint8Array, path = "/v1/echo", type = "application/json") =>
  raw(url, "POST", path, { headers: { "content-type": type, "content-encoding": encoding }, body: bytes });

describe("REST request bodies with a Content-Encoding", () => {
  const plain = Buffer.from(body);
  for (const [coding, encode] of [
    ["gzip", gzipSync],
    ["x-gzip", gzipSync],
    ["deflate", deflateSync],
    ["br", brotliCompressSync],
    ["GZIP", gzipSync],
    ["identity", (b: Buffer) => b],
  ] as const) {
    it(`decodes ${coding}: the same answer as the plain body`, async () => {
      const a = await post(coding, encode(plain));
      assert.equal(a.status, 200, a.text);
      const want = await raw(url, "POST", "/v1/echo", { headers: { "content-type": "application/json" }, body });
      assert.equal(a.text, want.text);
    });
  }

  it("undoes two codings in the reverse of the order listed", async () => {
    const a = await post("deflate, gzip", gzipSync(deflateSync(plain)));
    assert.equal(a.status, 200, a.text);
    assert.equal(a.text, (await raw(url, "POST", "/v1/echo", { headers: { "content-type": "application/json" }, body })).text);
  });

  it("gives an HttpBody field the decoded bytes", async () => {
    const data = Buffer.from("\u0000\u0001raw bytes".repeat(20), "latin1");
    const a = await post("gzip", gzipSync(data), "/v1/uploads/f.bin", "application/octet-stream");
    assert.equal(a.status, 200, a.text);
    assert.equal((JSON.parse(a.text) as { size: string }).size, String(data.length));
  });

  it("refuses a body that decodes to more than the message limit with 413 (a small gzip bomb)", async () => {
    const bomb = gzipSync(Buffer.from(JSON.stringify({ id: "x", note: "a".repeat(200_000) })));
    assert.ok(bomb.length < 1024, `the bomb itself is under the limit (${bomb.length} bytes)`);
    assertStatus(await post("gzip", bomb), 413, Code.ResourceExhausted, /larger than the limit of 1024 bytes/);
  });

  it("refuses an unknown coding with 415 and says which ones it takes", async () => {
    const a = await post("compress", plain);
    assertStatus(a, 415, Code.InvalidArgument, /Content-Encoding "compress" is not supported.*gzip, deflate, br/);
    assert.equal(a.headers["accept-encoding"], "gzip, deflate, br");
    assertStatus(await post("gzip, gzip, gzip", gzipSync(gzipSync(gzipSync(plain)))), 415, Code.InvalidArgument, /more than two/);
  });

  it("answers 400 for data that is not in the coding it claims, and goes on serving", async () => {
    assertStatus(await post("gzip", plain), 400, Code.InvalidArgument, /not valid gzip data/);
    assertStatus(await post("br", Buffer.from([0xff, 0xff, 0xff, 0xff])), 400, Code.InvalidArgument, /not valid br data/);
    assert.equal((await post("gzip", gzipSync(plain))).status, 200);
  });
});
