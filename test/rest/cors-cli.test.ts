// CORS from the command line: --cors-* flags and CORS_* variables reach the server (checked with
// real preflights against the real CLI process), and mistakes stop it with a message naming the flag.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCli } from "../../src/cli-config.js";
import { finished, runTs, startMain } from "../support/process.js";
import { raw } from "./support.js";

const preflight = (port: number, path: string, origin: string, method: string) =>
  raw(`http://127.0.0.1:${port}`, "OPTIONS", path, { headers: { origin, "access-control-request-method": method, "access-control-request-headers": "authorization, content-type" } });

describe("CORS options of the CLI", () => {
  it("lists every CORS flag with its variable in --help", async () => {
    const r = await finished(runTs("src/main.ts", ["--help"]));
    assert.equal(r.code, 0);
    for (const [flag, env] of [
      ["--cors-origins", "CORS_ORIGINS"],
      ["--cors-credentials", "CORS_CREDENTIALS"],
      ["--cors-max-age", "CORS_MAX_AGE"],
      ["--cors-expose-headers", "CORS_EXPOSE_HEADERS"],
    ]) {
      assert.match(r.stdout, new RegExp(`${flag} [\\s\\S]{0,200}?\\[${env}`), flag);
    }
  });

  it("refuses a bad value with exit code 2 and a message naming the flag and the fix", async () => {
    const r = await finished(runTs("src/main.ts", ["--cors-origins", "app.example.com"]));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--cors-origins \(CORS_ORIGINS\): .*"app.example.com" is not an origin.*add the scheme: "https:\/\/app.example.com"/);
  });

  // The same parser the process runs, without a process per case.
  for (const [name, args, env, message] of [
    ["an origin copied with a trailing slash", [], { CORS_ORIGINS: "https://ok.example.com, https://app.example.com/" }, /--cors-origins \(CORS_ORIGINS\): .*drop the trailing slash/],
    ["an origin with a path", ["--cors-origins", "https://app.example.com/app"], {}, /--cors-origins \(CORS_ORIGINS\): .*an origin has no path/],
    ["credentials with any origin", ["--cors-origins", "*", "--cors-credentials", "on"], {}, /--cors-credentials \(CORS_CREDENTIALS\): cors.allowCredentials cannot be used with allowedOrigins "\*"/],
    ["a credentials value that is no switch", [], { CORS_CREDENTIALS: "maybe" }, /--cors-credentials \(CORS_CREDENTIALS\) must be on or off, got "maybe"/],
    ["a max age that is no number", ["--cors-max-age", "1h"], {}, /--cors-max-age \(CORS_MAX_AGE\) must be a number of seconds, got "1h"/],
    ["an exposed header that is no header name", ["--cors-expose-headers", "x-ok,x bad"], {}, /--cors-expose-headers \(CORS_EXPOSE_HEADERS\): cors.exposedHeaders must be an array of header names/],
  ] as const) {
    it(`refuses ${name}`, () => {
      assert.throws(() => parseCli([...args], env), message);
    });
  }

  it("reads flags before variables and ignores empty variables", () => {
    const cfg = parseCli(["--cors-origins", "https://a.example.com"], { CORS_ORIGINS: "https://b.example.com", CORS_MAX_AGE: "60", CORS_EXPOSE_HEADERS: "" });
    assert.deepEqual(cfg.server.cors, { allowedOrigins: ["https://a.example.com"], maxAgeSeconds: 60 });
    assert.deepEqual(parseCli([], {}).server.cors, {}, "no CORS unless asked for");
  });

  it("answers real preflights with the flags' settings, and refuses other origins", async () => {
    // Flags, and one setting from the environment (CORS_MAX_AGE) to show both reach the server.
    const { child, port } = await startMain(
      ["--cors-origins", "https://app.example.com, https://*.example.org", "--cors-credentials", "on", "--cors-expose-headers", "x-request-id,grpc-trailer-x-checksum"],
      { CORS_MAX_AGE: "600" },
    );
    const rest = await preflight(port, "/v1/hello/Bob", "https://app.example.com", "GET");
    assert.equal(rest.status, 204);
    assert.equal(rest.headers["access-control-allow-origin"], "https://app.example.com");
    assert.equal(rest.headers["access-control-allow-methods"], "GET, HEAD");
    assert.equal(rest.headers["access-control-allow-headers"], "authorization, content-type");
    assert.equal(rest.headers["access-control-allow-credentials"], "true");
    assert.equal(rest.headers["access-control-max-age"], "600");
    const connect = await preflight(port, "/example.ExampleService/SayHello", "https://a.b.example.org", "POST");
    assert.equal(connect.status, 204);
    assert.equal(connect.headers["access-control-allow-origin"], "https://a.b.example.org");
    assert.equal((await preflight(port, "/v1/hello/Bob", "https://evil.example.com", "GET")).status, 403);
    const get = await raw(`http://127.0.0.1:${port}`, "GET", "/v1/hello/Bob", { headers: { origin: "https://app.example.com" } });
    assert.equal(get.status, 200);
    assert.equal(get.headers["access-control-allow-origin"], "https://app.example.com");
    assert.equal(get.headers["access-control-allow-credentials"], "true");
    assert.match(String(get.headers["access-control-expose-headers"]), /x-request-id, grpc-trailer-x-checksum$/);
    const exit = finished(child);
    child.kill("SIGTERM");
    assert.equal((await exit).code, 0);
  });

});
