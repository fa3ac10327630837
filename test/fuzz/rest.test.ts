// REST transcoding through the real server, beyond test/rest/properties.test.ts (random queries and
// junk paths): mutated request bodies on every body-binding route with random content types and
// deadline headers, byte-mutated real request paths (percent-encodings, verbs) on every method, and
// server streams in NDJSON and SSE. Every answer is a success or a google.rpc.Status JSON whose
// HTTP status is its code's; no INTERNAL or UNKNOWN escapes; the same keep-alive connection serves on.
import assert from "node:assert/strict";
import { Agent } from "node:http";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { httpStatusFromCode } from "../../src/rest/errors.js";
import { exampleService } from "../../src/services/example.js";
import { transcodingService } from "../rest/transcoding-service.js";
import { budget, h1call, mutated, mutatedLatin1, startFuzzServer, type H1Answer } from "./support.js";

const srv = await startFuzzServer({ services: [exampleService(), transcodingService()], limits: { maxMessageBytes: 4096 } });
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
after(() => {
  agent.destroy();
  srv.assertNoCrash();
});

const enc = new TextEncoder();
// Statuses the transcoder sets itself rather than from a code's table entry.
const OWN_STATUS = new Set([404, 405, 413, 415]);

/** A REST answer: 2xx, or google.rpc.Status JSON (dispatcher 404s: {code: "not_found"}) matching its HTTP status. */
function assertRest(a: H1Answer, what: string, mayFail = false): void {
  if (a.status >= 200 && a.status < 300) return;
  const text = a.body.toString("utf8");
  assert.match(String(a.headers["content-type"]), /^application\/json/, `${what}: HTTP ${a.status} ${text.slice(0, 200)}`);
  const s = JSON.parse(text) as { code: number | string; message: string };
  assert.equal(typeof s.message, "string", `${what}: ${text}`);
  assert.doesNotMatch(s.message, /\n\s+at |\.ts:\d+|node_modules|^internal error/, `${what}: ${s.message}`);
  if (typeof s.code === "string") return assert.equal(a.status, 404, `${what}: ${text}`);
  if (!mayFail) assert.ok(s.code !== 2 && s.code !== 13, `${what}: ${text}`);
  if (!OWN_STATUS.has(a.status)) assert.equal(a.status, httpStatusFromCode[s.code as keyof typeof httpStatusFromCode], `${what}: HTTP ${a.status} for code ${s.code}`);
}

async function stillServes(): Promise<void> {
  const a = await h1call(agent, srv.port, "GET", "/v1/hello/Bob", {});
  assert.equal(a.body.toString(), '{"message":"Hello, Bob"}');
  const b = await h1call(agent, srv.port, "POST", "/v1/echo", { "content-type": "application/json" }, enc.encode('{"id":"x","small":3}'));
  assert.equal(b.status, 200, b.body.toString());
}

const deadline = fc.option(fc.oneof(fc.constantFrom("1S", "5S", "250m", "1n", "0m", "99999999H", "S", "-1S", "1.5S", "1s", ""), fc.nat(99999).map((n) => `${n + 1000}m`)));
const contentType = fc.constantFrom("application/json", "application/json; charset=utf-8", "application/merge-patch+json", "text/plain", "", "application/octet-stream", "image/png", "application/x-www-form-urlencoded");

describe("REST transcoding under fuzzing", { timeout: 120_000 }, () => {
  it("answers mutated bodies on every body route with 2xx or a google.rpc.Status", async () => {
    const routes: Array<[string, string]> = [["POST", "/v1/echo"], ["PUT", "/v1/echo/a"], ["PATCH", "/v1/echo/a"], ["POST", "/v1/rooms/r1:archive"], ["POST", "/v1/uploads/f.txt"], ["POST", "/v1/sum"], ["SEARCH", "/v1/echo:search"]];
    const seeds = ['{"id":"a","small":1,"big":"5","nested":{"label":"x","deeper":{"value":"v"}},"tags":["a"]}', '{"label":"x","depth":3,"items":["a","b"]}', '{"at":"2024-01-01T00:00:00Z","wait":"1.5s","mask":"a,b","blob":"aGk=","labels":{"k":"v"},"kinds":["KIND_ALPHA",2],"maybeInt":4}', '{"reason":"r"}', '{"value":"12"}', "[]", "null", "{}"].map((s) => enc.encode(s));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), contentType, deadline, fc.oneof(mutated(seeds, { maxOps: 3 }), fc.uint8Array({ maxLength: 64 }), fc.constant(new Uint8Array(5000))), async ([method, path], ct, timeout, body) => {
        const headers: Record<string, string> = { "content-type": ct, "grpc-metadata-x-fuzz": "1" };
        if (timeout !== null) headers["grpc-timeout"] = timeout;
        assertRest(await h1call(agent, srv.port, method, path, headers, body), `${method} ${path} ${ct} grpc-timeout=${timeout} ${Buffer.from(body).toString("utf8").slice(0, 120)}`);
      }),
      budget(400, 3000),
    );
    await stillServes();
  });

  it("answers byte-mutated real request paths with 2xx or a google.rpc.Status, on every method", async () => {
    // No seed reaches Sleep or Count: their path values would make a slow or endless (n=0) call.
    const seeds = [
      "/v1/hello/Bob",
      "/v1/echo/a?small=1&tags=x&nested.label=y",
      "/v1/echo/a%2Fb/nested/v%20w",
      "/v1/echo/a/message",
      "/v1/projects/p/files/a/b/c.txt",
      "/v1/projects/p%2Fq/files/a%2Fb",
      "/v1/rooms/r1",
      "/v1/rooms/r1:archive",
      "/v1/rooms/r1%3Aarchive",
      "/v1/echo:search?id=z",
      "/v1/downloads/f.png",
      "/v1/metadata",
      "/v1/fail/5",
    ];
    const method = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "SEARCH", "HEAD", "OPTIONS");
    await fc.assert(
      fc.asyncProperty(method, mutatedLatin1(seeds, { maxOps: 3 }), async (m, raw) => {
        // Only what an HTTP/1.1 request line can carry: printable, no spaces (those are 400s of the parser).
        const path = raw.toString("latin1").replace(/[^\x21-\x7e]/g, (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0").toUpperCase());
        if (!path.startsWith("/") || /^\/v1\/(sleep|count)/.test(path)) return;
        const a = await h1call(agent, srv.port, m, path, { "content-type": "application/json" }, m === "GET" || m === "HEAD" ? undefined : enc.encode("{}"));
        if (m === "HEAD" || (m === "OPTIONS" && a.body.length === 0)) return assert.ok(a.status < 500, `${m} ${path}: HTTP ${a.status}`);
        assertRest(a, `${m} ${path}`, /^\/v1\/fail\//.test(path));
      }),
      budget(500, 3000),
    );
    await stillServes();
  });

  it("ends server streams in NDJSON and SSE with messages and a final status, for random parameters", async () => {
    const query = fc.record({ fail_after: fc.oneof(fc.integer({ min: 0, max: 6 }).map(String), fc.constantFrom("x", "-1", "1e9")), padding: fc.oneof(fc.integer({ min: 0, max: 200 }).map(String), fc.constantFrom("x", "")), delay_ms: fc.constantFrom("0", "1", "x") }, { requiredKeys: [] });
    const accept = fc.constantFrom("text/event-stream", "application/x-ndjson", "application/json", "*/*", "text/event-stream;q=0.1, application/json", "");
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), query, accept, async (n, q, acc) => {
        const path = `/v1/count/${n}?${new URLSearchParams(q)}`;
        const a = await h1call(agent, srv.port, "GET", path, acc ? { accept: acc } : {});
        if (a.status !== 200) return assertRest(a, path);
        const text = a.body.toString("utf8");
        // Every event or line is JSON: messages, then possibly an error Status.
        const items = String(a.headers["content-type"]).startsWith("text/event-stream")
          ? text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5))
          : text.split("\n").filter((l) => l.trim() !== "");
        assert.ok(items.length > 0, `${path}: empty stream`);
        for (const i of items) JSON.parse(i);
      }),
      budget(200, 2000),
    );
    await stillServes();
  });
});
