import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { describe, it } from "node:test";
import { startServer } from "../support/server.js";
import { selfSignedCert } from "../support/tls.js";

// Third-party clients run as subprocesses against a real server, finding the API by server
// reflection only (no schema files): grpcurl (Go, installed by .ci/install-go-peers.sh), buf curl
// (from node_modules) and curl.

const root = new URL("../..", import.meta.url).pathname;
const buf = join(root, "node_modules/.bin/buf");

/** grpcurl from PATH or the Go bin folder; undefined when it is not installed. */
function findGrpcurl(): string | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter);
  try {
    dirs.push(join(execFileSync("go", ["env", "GOPATH"], { encoding: "utf8" }).trim(), "bin"));
  } catch {
    // no Go toolchain: only PATH is searched
  }
  return dirs.map((d) => join(d, "grpcurl")).find((p) => existsSync(p));
}
const grpcurl = findGrpcurl();
// Locally a missing grpcurl skips its tests with the reason; in CI (CI set) it must be there.
const grpcurlSkip = grpcurl === undefined && !process.env.CI ? "grpcurl is not installed; run `bash .ci/install-go-peers.sh`" : false;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop (the server under test shares this process). */
function run(cmd: string | undefined, args: string[], input?: string): Promise<Run> {
  if (cmd === undefined) return Promise.reject(new Error("grpcurl is not installed but CI is set: .ci/install-go-peers.sh must install it"));
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 30_000, encoding: "utf8" }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      if (err !== null && typeof err.code !== "number") return reject(err);
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input ?? "");
  });
}

/** Parses the JSON objects grpcurl prints one after another (pretty-printed, not one per line). */
function jsonStream(text: string): unknown[] {
  return JSON.parse(`[${text.trim().replace(/}\s*{/g, "},{")}]`) as unknown[];
}

const plain = await startServer();
const cert = selfSignedCert();
const tls = await startServer({ tls: cert });
const target = `127.0.0.1:${plain.port}`;

describe("grpcurl with server reflection", { skip: grpcurlSkip }, () => {
  it("lists every service the server registers", async () => {
    const r = await run(grpcurl, ["-plaintext", target, "list"]);
    assert.equal(r.code, 0, r.stderr);
    const services = r.stdout.trim().split("\n");
    for (const s of ["example.ExampleService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]) {
      assert.ok(services.includes(s), `${s} missing from:\n${r.stdout}`);
    }
  });

  it("describes ExampleService with its four methods", async () => {
    const r = await run(grpcurl, ["-plaintext", target, "describe", "example.ExampleService"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rpc SayHello \( \.example\.HelloRequest \) returns \( \.example\.HelloResponse \)/);
    assert.match(r.stdout, /rpc SayHelloStream \( \.example\.HelloStreamRequest \) returns \( stream \.example\.HelloResponse \)/);
    assert.match(r.stdout, /rpc CollectNames \( stream \.example\.HelloRequest \) returns \( \.example\.HelloResponse \)/);
    assert.match(r.stdout, /rpc Chatter \( stream \.example\.HelloRequest \) returns \( stream \.example\.HelloResponse \)/);
  });

  it("describes a message type resolved through a dependency", async () => {
    const r = await run(grpcurl, ["-plaintext", target, "describe", "example.HelloRequest"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /string name = 1;/);
  });

  it("calls SayHello", async () => {
    const r = await run(grpcurl, ["-plaintext", "-d", '{"name":"Bob"}', target, "example.ExampleService/SayHello"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { message: "Hello, Bob" });
  });

  it("reports INVALID_ARGUMENT for an empty name", async () => {
    const r = await run(grpcurl, ["-plaintext", "-d", '{"name":""}', target, "example.ExampleService/SayHello"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Code: InvalidArgument/);
    assert.match(r.stderr, /name must not be empty/);
  });

  it("streams SayHelloStream and talks to the bidi Chatter", async () => {
    const s = await run(grpcurl, ["-plaintext", "-d", '{"name":"Ann","count":2}', target, "example.ExampleService/SayHelloStream"]);
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(jsonStream(s.stdout), [{ message: "Hello, Ann (1/2)" }, { message: "Hello, Ann (2/2)" }]);
    const b = await run(grpcurl, ["-plaintext", "-d", "@", target, "example.ExampleService/Chatter"], '{"name":"A"}\n{"name":"B"}\n');
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(jsonStream(b.stdout), [{ message: "Hello, A" }, { message: "Hello, B" }]);
  });

  it("checks health over TLS", async () => {
    const r = await run(grpcurl, ["-insecure", "-d", '{"service":"example.ExampleService"}', `127.0.0.1:${tls.port}`, "grpc.health.v1.Health/Check"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { status: "SERVING" });
  });
});

describe("buf curl with server reflection", () => {
  const sayHello = `${plain.url}/example.ExampleService/SayHello`;
  // Reflection is a bidi stream, which connect-node serves only over HTTP/2: hence prior knowledge.
  for (const protocol of ["grpc", "grpcweb", "connect"]) {
    it(`calls SayHello over ${protocol}`, async () => {
      const r = await run(buf, ["curl", "--protocol", protocol, "--http2-prior-knowledge", "-d", '{"name":"Bob"}', sayHello]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { message: "Hello, Bob" });
    });
  }

  for (const reflect of ["grpc-v1", "grpc-v1alpha"]) {
    it(`downloads the schema with ${reflect} reflection`, async () => {
      const r = await run(buf, ["curl", "--reflect-protocol", reflect, "--http2-prior-knowledge", "-d", '{"name":"Ann","count":2}', `${plain.url}/example.ExampleService/SayHelloStream`]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(jsonStream(r.stdout), [{ message: "Hello, Ann (1/2)" }, { message: "Hello, Ann (2/2)" }]);
    });
  }

  it("lists the services over TLS", async () => {
    const r = await run(buf, ["curl", "-k", "--list-services", tls.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.split("\n").includes("example.ExampleService"), r.stdout);
  });

  it("prints the Connect error for an empty name", async () => {
    const r = await run(buf, ["curl", "--http2-prior-knowledge", "-d", '{"name":""}', sayHello]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /invalid_argument/);
    assert.match(r.stderr, /name must not be empty/);
  });
});

describe("curl on the Connect protocol", () => {
  const sayHello = `${plain.url}/example.ExampleService/SayHello`;

  it("POSTs unary JSON over HTTP/1.1", async () => {
    const r = await run("curl", ["-sS", "--http1.1", "-w", "\n%{http_code} %{content_type}", "-H", "content-type: application/json", "-d", '{"name":"Bob"}', sayHello]);
    assert.equal(r.code, 0, r.stderr);
    const [body, status] = r.stdout.split("\n");
    assert.deepEqual(JSON.parse(body), { message: "Hello, Bob" });
    assert.equal(status, "200 application/json");
  });

  it("GETs an idempotent method with the message in the query", async () => {
    const q = new URLSearchParams({ encoding: "json", message: '{"name":"Ann"}', connect: "v1" });
    const r = await run("curl", ["-sS", "-w", "\n%{http_code}", `${sayHello}?${q}`]);
    assert.equal(r.code, 0, r.stderr);
    const [body, status] = r.stdout.split("\n");
    assert.deepEqual(JSON.parse(body), { message: "Hello, Ann" });
    assert.equal(status, "200");
  });

  it("gets the Connect error JSON with HTTP 400 for an empty name", async () => {
    const r = await run("curl", ["-sS", "--http2-prior-knowledge", "-w", "\n%{http_code}", "-H", "content-type: application/json", "-d", '{"name":""}', sayHello]);
    assert.equal(r.code, 0, r.stderr);
    const [body, status] = r.stdout.split("\n");
    assert.equal(status, "400");
    const err = JSON.parse(body) as { code: string; message: string };
    assert.equal(err.code, "invalid_argument");
    assert.match(err.message, /name must not be empty/);
  });
});
