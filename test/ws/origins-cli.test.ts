// The WebSocket origin allowlist from the command line: --ws-origins / WS_ORIGINS reach the real
// process's upgrade check, and a mistake stops it with a message naming the flag.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import WebSocket from "ws";
import { parseCli } from "../../src/cli-config.js";
import { finished, runTs, startMain } from "../support/process.js";

/** Opens /ws with an Origin header: "open", or the HTTP status and body of the refusal. */
function upgrade(port: number, origin: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ["oneport.json.v1"], { headers: { origin } });
    ws.once("open", () => {
      ws.close();
      resolve("open");
    });
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c));
      res.on("end", () => resolve(`${res.statusCode} ${body}`));
    });
    ws.once("error", (e) => resolve(`error ${e.message}`));
  });
}

describe("--ws-origins", () => {
  it("is listed in --help with its variable", async () => {
    const r = await finished(runTs("src/main.ts", ["--help"]));
    assert.match(r.stdout, /--ws-origins LIST[\s\S]{0,120}\[WS_ORIGINS/);
  });

  it("refuses a value that is no origin, naming the flag", async () => {
    const r = await finished(runTs("src/main.ts", ["--ws-origins", "https://ok.example.com,app.example.com"]));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--ws-origins \(WS_ORIGINS\): "app.example.com" is not an origin/);
    assert.throws(() => parseCli([], { WS_ORIGINS: "https://app.example.com/path" }), /--ws-origins \(WS_ORIGINS\): .*scheme, host and port only/);
  });

  it("reads the flag before the variable, normalized later by the server", () => {
    assert.deepEqual(parseCli(["--ws-origins", "https://a.example.com, http://localhost:3000"], { WS_ORIGINS: "https://b.example.com" }).server.ws?.allowedOrigins, ["https://a.example.com", "http://localhost:3000"]);
    assert.equal(parseCli([], {}).server.ws?.allowedOrigins, undefined, "only the server's own origin unless asked");
  });

  it("lets pages of the listed origins open /ws, and tells others which flag to set", async () => {
    const { child, port } = await startMain(["--ws-origins", "https://app.example.com"], { WS_ORIGINS: "https://ignored.example.com" });
    try {
      assert.equal(await upgrade(port, "https://app.example.com"), "open");
      assert.equal(await upgrade(port, `http://127.0.0.1:${port}`), "open", "its own origin still");
      const refused = await upgrade(port, "https://ignored.example.com");
      assert.match(refused, /^403 .*may not open WebSockets here.*--ws-origins/);
    } finally {
      const exit = finished(child);
      child.kill("SIGTERM");
      assert.equal((await exit).code, 0);
    }
  });
});
