// HEAD on REST routes (RFC 9110 9.3.2): the status and headers GET would answer, no body; over
// HTTP/1.1 (node:http and curl) and HTTP/2; server streams are started and cancelled, never sent.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { connect as h2connect, type IncomingHttpHeaders } from "node:http2";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { exampleService } from "../../src/services/example.js";
import { startServer } from "../support/server.js";
import { raw, type Answer } from "./support.js";
import { transcodingService, type ServiceProbe } from "./transcoding-service.js";

const probe: ServiceProbe = { yielded: 0, cancelled: 0 };
// Streams under /v1/count need a token, so HEAD must run the interceptors to answer as GET does.
const needsToken: Interceptor = (next) => async (req) => {
  if (req.method.name === "Count" && req.header.get("authorization") !== "Bearer t") throw new ConnectError("send authorization: Bearer t", Code.Unauthenticated);
  return next(req);
};
const { url } = await startServer({ services: [exampleService(), transcodingService(probe)], interceptors: [needsToken] });
const auth = { authorization: "Bearer t" };

/** The headers that must be equal between GET and HEAD (date and the per-call request id differ). */
const comparable = (a: Answer) => {
  const { date: _d, "x-request-id": _r, connection: _c, "keep-alive": _k, ...rest } = a.headers;
  return rest;
};

/** Resolves once `cond()` holds, checking after each turn of the event loop (no fixed sleep). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 20_000) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("HEAD on REST routes", () => {
  for (const [name, path, status] of [
    ["a unary GET route", "/v1/hello/Bob", 200],
    ["a unary route that fails validation", "/v1/hello/", 400],
    ["a unary route whose method fails", "/v1/fail/5", 404],
    ["a raw google.api.HttpBody route", "/v1/downloads/x.png", 200],
    ["a ** route", "/v1/files/a/b.txt", 200],
  ] as const) {
    it(`answers ${name} with GET's status and headers and no body`, async () => {
      const get = await raw(url, "GET", path);
      const head = await raw(url, "HEAD", path);
      assert.equal(get.status, status, get.text);
      assert.equal(head.status, status);
      assert.deepEqual(comparable(head), comparable(get));
      assert.equal(head.headers["content-length"], String(get.bytes.length), "Content-Length is the length GET sends");
      assert.equal(head.bytes.length, 0);
    });
  }

  it("answers HEAD over HTTP/2 with the headers and an empty body", async () => {
    const session = h2connect(url);
    after(() => session.close());
    const answer = await new Promise<{ headers: IncomingHttpHeaders; bytes: number }>((resolve, reject) => {
      const stream = session.request({ ":method": "HEAD", ":path": "/v1/hello/Bob" });
      let headers: IncomingHttpHeaders = {};
      let bytes = 0;
      stream.on("response", (h) => (headers = h));
      stream.on("data", (d: Buffer) => (bytes += d.length));
      stream.on("end", () => resolve({ headers, bytes }));
      stream.on("error", reject);
      stream.end();
    });
    assert.equal(answer.headers[":status"], 200);
    assert.equal(answer.headers["content-type"], "application/json");
    assert.equal(answer.headers["content-length"], String('{"message":"Hello, Bob"}'.length));
    assert.equal(answer.bytes, 0);
  });

  it("answers curl -I like curl's GET, without a body", async () => {
    const run = promisify(execFile);
    const { stdout } = await run("curl", ["-sS", "-I", `${url}/v1/hello/Bob`]);
    assert.match(stdout, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(stdout, /content-length: 24\r\n/i);
    assert.match(stdout, /content-type: application\/json\r\n/i);
  });

  it("is refused where GET is not allowed, with 405 and the allowed methods", async () => {
    const a = await raw(url, "HEAD", "/v1/echo");
    assert.equal(a.status, 405);
    assert.equal(a.headers.allow, "POST");
  });

  it("is listed in Allow wherever GET is", async () => {
    const a = await raw(url, "DELETE", "/v1/hello/Bob");
    assert.equal(a.status, 405);
    assert.equal(a.headers.allow, "GET, HEAD");
    assert.equal((await raw(url, "PUT", "/v1/echo/x")).status, 200, "PUT /v1/echo/{id} exists");
    assert.equal((await raw(url, "POST", "/v1/echo/x")).headers.allow, "DELETE, GET, HEAD, PATCH, PUT");
  });
});

describe("HEAD on server-streaming REST routes", () => {
  for (const [accept, type] of [
    [undefined, "application/x-ndjson"],
    ["text/event-stream", "text/event-stream"],
  ] as const) {
    it(`answers the ${type} headers GET starts with, sends nothing and cancels the call`, async () => {
      const headers = { ...auth, ...(accept ? { accept } : {}) };
      // A stream whose first message would come in a minute, as a subscription's does.
      const before = { ...probe };
      const a = await raw(url, "HEAD", "/v1/count/0?delayMs=60000", { headers });
      assert.equal(a.status, 200);
      assert.equal(a.headers["content-type"], type);
      assert.equal(a.headers["cache-control"], "no-cache");
      assert.equal(a.bytes.length, 0);
      await until(() => probe.cancelled > before.cancelled, "the stream's call is cancelled");
      assert.equal(probe.yielded, before.yielded, "no message was produced");
    });
  }

  it("answers a stream whose messages are ready at once with 200 and no body", async () => {
    const a = await raw(url, "HEAD", "/v1/count/3", { headers: auth });
    assert.equal(a.status, 200);
    assert.equal(a.headers["content-type"], "application/x-ndjson");
    assert.equal(a.bytes.length, 0);
  });

  it("answers with GET's error status when the call is refused at its start", async () => {
    const get = await raw(url, "GET", "/v1/count/3");
    const head = await raw(url, "HEAD", "/v1/count/3");
    assert.equal(get.status, 401);
    assert.equal(head.status, 401);
    assert.equal(head.bytes.length, 0);
    assert.equal(head.headers["content-type"], "application/json");
  });

  it("keeps serving the stream to GET afterwards", async () => {
    const a = await raw(url, "GET", "/v1/count/2", { headers: auth });
    assert.equal(a.text, '{"result":{"number":1}}\n{"result":{"number":2}}\n');
  });
});
