import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { finished, runTs, startMain } from "../support/process.js";

describe("server CLI (src/main.ts)", () => {
  it("prints usage for --help and exits 0", async () => {
    const r = await finished(runTs("src/main.ts", ["--help"]));
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: npx tsx src\/main.ts/);
    assert.match(r.stdout, /--tls-cert/);
  });

  it("rejects a bad port with exit code 2 and says what to fix", async () => {
    const r = await finished(runTs("src/main.ts", [], { PORT: "99999" }));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--port \(PORT\) must be an integer from 0 to 65535, got "99999"/);
  });

  it("rejects an unknown flag and points at --help", async () => {
    const r = await finished(runTs("src/main.ts", ["--prot", "1"]));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--help/);
  });

  it("rejects half a TLS configuration", async () => {
    const r = await finished(runTs("src/main.ts", ["--tls-cert", "x.pem"]));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /TLS needs both/);
  });

  it("serves the grpc-js client CLI, logs one line per call, and exits 0 on SIGTERM", async () => {
    const { child, port, lines } = await startMain();
    const addr = `127.0.0.1:${port}`;
    const hello = await finished(runTs("src/client.ts", ["--addr", addr, "hello", "Bob"]));
    assert.equal(hello.stdout, "Hello, Bob\n");
    const stream = await finished(runTs("src/client.ts", ["--addr", addr, "stream", "Ann", "2"]));
    assert.equal(stream.stdout, "Hello, Ann (1/2)\nHello, Ann (2/2)\n");
    const collect = await finished(runTs("src/client.ts", ["--addr", addr, "collect", "A", "B"]));
    assert.equal(collect.stdout, "Hello, A, B\n");
    const chatter = await finished(runTs("src/client.ts", ["--addr", addr, "chatter", "X", "Y"]));
    assert.equal(chatter.stdout, "Hello, X\nHello, Y\n");
    const bad = await finished(runTs("src/client.ts", ["--addr", addr, "hello", ""]));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /INVALID_ARGUMENT/);
    const exit = finished(child);
    child.kill("SIGTERM");
    const r = await exit;
    assert.equal(r.code, 0);
    const calls = lines.filter((l) => l.msg === "call");
    assert.ok(calls.some((l) => l.method === "example.ExampleService/SayHello" && l.protocol === "grpc" && l.code === "ok"), JSON.stringify(calls));
    assert.ok(calls.some((l) => l.method === "example.ExampleService/SayHello" && l.code === "invalid_argument"));
    assert.ok(r.stdout.includes('"msg":"stopped"'));
  });
});
