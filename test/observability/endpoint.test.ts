// The /metrics endpoint: format, methods, token, disabled, other path, HTTP/2 and TLS, process metrics, options.
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { networkInterfaces } from "node:os";
import { describe, it } from "node:test";
import { parseCli } from "../../src/cli-config.js";
import { isLoopback } from "../../src/observability/endpoint.js";
import { resolveMetricsOptions } from "../../src/observability/options.js";
import { startServer } from "../support/server.js";
import { selfSignedCert } from "../support/tls.js";
import { parseExposition, scrape, valueOf } from "./prom.js";

/** GET over HTTP/2 (h2c or TLS), with the status, headers and body. */
function h2get(url: string, path: string, headers: Record<string, string> = {}, ca?: Buffer): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, ca ? { ca } : {});
    session.on("error", reject);
    const req = session.request({ ":path": path, ...headers });
    let status = 0;
    let type = "";
    let body = "";
    req.on("response", (h) => {
      status = Number(h[":status"]);
      type = String(h["content-type"]);
    });
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      session.close();
      resolve({ status, type, body });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("/metrics", () => {
  it("serves the Prometheus text format with every family typed, and process metrics by default", async () => {
    const { url } = await startServer();
    const s = await scrape(url);
    assert.equal(s.types.get("oneport_server_started_total"), "counter");
    assert.equal(s.types.get("oneport_server_handled_total"), "counter");
    assert.equal(s.types.get("oneport_server_handling_seconds"), "histogram");
    assert.equal(s.types.get("oneport_connections_open"), "gauge");
    assert.equal(s.types.get("oneport_websocket_streams_open"), "gauge");
    assert.equal(s.types.get("oneport_received_bytes_total"), "counter");
    // Present, not necessarily > 0: prom-client counts CPU since the registry was made, and Linux
    // accounts CPU in ticks, so a scrape right after start may read 0 on a busy machine.
    assert.equal(s.types.get("process_cpu_user_seconds_total"), "counter", "process metrics are there");
    assert.ok(s.samples.some((x) => x.name === "process_cpu_user_seconds_total" && x.value >= 0), "with a sample");
    assert.ok(s.types.has("nodejs_eventloop_lag_seconds"));
  });

  it("answers HEAD with headers only and refuses other methods with 405 and Allow", async () => {
    const { url } = await startServer();
    const head = await fetch(`${url}/metrics`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.match(head.headers.get("content-type") ?? "", /^text\/plain/);
    assert.equal(await head.text(), "");
    const post = await fetch(`${url}/metrics`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    assert.equal(((await post.json()) as { code: string }).code, "method_not_allowed");
  });

  it("is a 404 when metrics are disabled, and calls still work", async () => {
    const { url } = await startServer({ metrics: { enabled: false } });
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 404);
    await res.text();
    assert.equal((await fetch(`${url}/v1/hello/Bob`)).status, 200);
  });

  it("serves at another path when configured, and leaves /metrics to the 404", async () => {
    const { url } = await startServer({ metrics: { path: "/internal/prom" } });
    await scrape(url, {}, "/internal/prom");
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 404);
    await res.text();
  });

  it("leaves out process metrics when defaultMetrics is false", async () => {
    const { url } = await startServer({ metrics: { defaultMetrics: false } });
    const s = await scrape(url);
    assert.equal(s.types.has("process_cpu_user_seconds_total"), false);
    assert.ok(s.types.has("oneport_server_started_total"));
  });

  it("needs the bearer token when one is set: 401 with WWW-Authenticate without it or with a wrong one", async () => {
    const { url } = await startServer({ metrics: { token: "s3cret-scrape" } });
    for (const authorization of [undefined, "Bearer wrong", "Basic czNjcmV0LXNjcmFwZQ==", "Bearer s3cret-scrape extra"]) {
      const res = await fetch(`${url}/metrics`, { headers: authorization ? { authorization } : {} });
      assert.equal(res.status, 401, String(authorization));
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="metrics"');
      const body = (await res.json()) as { code: string; message: string };
      assert.equal(body.code, "unauthenticated");
      assert.doesNotMatch(body.message, /s3cret/);
    }
    await scrape(url, { headers: { authorization: "Bearer s3cret-scrape" } });
    await scrape(url, { headers: { authorization: "bearer   s3cret-scrape" } });
  });

  it("is served over HTTP/2 cleartext and over TLS (h2 and HTTP/1.1), counting those connections", async () => {
    const plain = await startServer();
    const r = await h2get(plain.url, "/metrics");
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    assert.ok(valueOf(parseExposition(r.body), "oneport_connections_open", { transport: "h2" }) >= 1, "the scraping h2 connection is open");

    const { cert, key } = selfSignedCert();
    const tls = await startServer({ tls: { cert, key } });
    const t = await h2get(tls.url, "/metrics", {}, cert);
    assert.equal(t.status, 200);
    const s = parseExposition(t.body);
    assert.equal(valueOf(s, "oneport_connections_open", { transport: "h2-tls" }), 1);
    assert.ok(valueOf(s, "oneport_received_bytes_total", { transport: "h2-tls" }) > 0);
    // HTTP/1.1 over TLS: Node's https client through fetch is not configurable here, so use http2's
    // sibling: a TLS socket speaking HTTP/1.1 by ALPN.
    const { request } = await import("node:https");
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`${tls.url}/metrics`, { ca: cert, agent: false }, (res) => {
        let b = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (b += c));
        res.on("end", () => resolve(b));
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(valueOf(parseExposition(body), "oneport_connections_open", { transport: "h1-tls" }), 1);
  });
});

describe("metrics options", () => {
  describe("without a token, clients on this host only", () => {
    // A client that is not loopback: this machine's own address on another interface.
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === "IPv4" && !a.internal)?.address;
    const skip = external === undefined ? "this machine has no non-loopback IPv4 interface" : false;
    const get = (port: number, host: string, headers: Record<string, string> = {}) => fetch(`http://${host}:${port}/metrics`, { headers });

    it("answers loopback clients and refuses others with 403 saying how to open it; calls still work", { skip }, async () => {
      const { server, port } = await startServer({ host: "0.0.0.0" });
      assert.equal((await get(port, "127.0.0.1")).status, 200);
      const res = await get(port, external!);
      assert.equal(res.status, 403);
      const body = (await res.json()) as { code: string; message: string };
      assert.equal(body.code, "permission_denied");
      assert.match(body.message, /--metrics-token \(METRICS_TOKEN\).*--metrics-public on \(METRICS_PUBLIC\)/);
      // The same client's calls are served as usual.
      assert.deepEqual(await (await fetch(`http://${external}:${port}/v1/hello/Bob`)).json(), { message: "Hello, Bob" });
      assert.ok(server.context.options.metrics.public === false, "public is off by default");
    });

    it("refuses what a proxy on this host forwards (Forwarded, X-Forwarded-For, X-Real-IP), unless public is on", async () => {
      const { url } = await startServer();
      for (const h of [{ forwarded: "for=198.51.100.7" }, { "x-forwarded-for": "198.51.100.7" }, { "x-real-ip": "198.51.100.7" }] as Record<string, string>[]) {
        const res = await fetch(`${url}/metrics`, { headers: h });
        assert.equal(res.status, 403, JSON.stringify(h));
        assert.equal(((await res.json()) as { code: string }).code, "permission_denied");
      }
      assert.equal((await fetch(`${url}/metrics`)).status, 200);
      const open = await startServer({ metrics: { public: true } });
      assert.equal((await fetch(`${open.url}/metrics`, { headers: { "x-forwarded-for": "198.51.100.7" } })).status, 200);
    });

    it("serves every client with public on, and any client with the token when one is set", { skip }, async () => {
      const open = await startServer({ host: "0.0.0.0", metrics: { public: true } });
      assert.equal((await get(open.port, external!)).status, 200);
      const tokened = await startServer({ host: "0.0.0.0", metrics: { token: "s3cret-scrape" } });
      assert.equal((await get(tokened.port, external!)).status, 401);
      assert.equal((await get(tokened.port, external!, { authorization: "Bearer s3cret-scrape" })).status, 200);
    });

    it("knows loopback addresses in every form Node reports them", () => {
      for (const a of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"]) assert.equal(isLoopback(a), true, a);
      for (const a of ["10.0.0.1", "::ffff:10.0.0.1", "192.0.2.2", "::", "fe80::1", undefined]) assert.equal(isLoopback(a), false, String(a));
    });
  });

  it("rejects bad options with a message that names them", () => {
    assert.throws(() => resolveMetricsOptions({ public: "yes" as unknown as boolean }), /metrics\.public must be true or false/);
    assert.throws(() => resolveMetricsOptions({ path: "metrics" }), /metrics\.path must be a path/);
    assert.throws(() => resolveMetricsOptions({ buckets: [0.1, 0.05] }), /metrics\.buckets must be positive finite numbers in ascending order/);
    assert.throws(() => resolveMetricsOptions({ token: "has space" }), /metrics\.token/);
    assert.throws(() => resolveMetricsOptions({ enabled: "yes" as unknown as boolean }), /metrics\.enabled must be true or false/);
    assert.throws(() => resolveMetricsOptions({ bogus: 1 } as never), /unknown metrics option "bogus"/);
  });

  it("reads --metrics, --metrics-path, --metrics-token and --process-metrics (and their environment variables)", () => {
    const m = parseCli(["--metrics", "off", "--metrics-path", "/m", "--process-metrics", "off", "--metrics-public", "on"], { METRICS_TOKEN: "tok" }).server.metrics;
    assert.deepEqual({ ...m }, { enabled: false, path: "/m", token: "tok", defaultMetrics: false, public: true });
    assert.equal(parseCli([], { METRICS_PUBLIC: "off" }).server.metrics?.public, false);
    assert.throws(() => parseCli([], { METRICS_PUBLIC: "everyone" }), /--metrics-public \(METRICS_PUBLIC\) must be on or off/);
    assert.throws(() => parseCli(["--metrics", "maybe"], {}), /--metrics \(METRICS\) must be on or off/);
    assert.throws(() => parseCli([], { METRICS_PATH: "nope" }), /--metrics-path \(METRICS_PATH\)/);
  });
});
