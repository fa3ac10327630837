import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, describe, it } from "node:test";
import { startServer } from "../support/server.js";

const { port } = await startServer();

// wscat (the npm dev dependency) as a user runs it in a terminal: `script` gives it a pseudo-terminal,
// so it prints "Connected" and reads typed lines exactly as in the README.
function wscat() {
  const cmd = `node_modules/.bin/wscat --no-color -c ws://127.0.0.1:${port}/ws`;
  const child = spawn("script", ["-q", "-e", "-c", cmd, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
  after(() => {
    if (child.exitCode === null) child.kill();
  });
  let out = "";
  let waiting: (() => void) | undefined;
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    waiting?.();
  });
  child.stderr.on("data", (c: Buffer) => (out += c.toString()));
  return {
    type: (line: string) => child.stdin.write(`${line}\n`),
    /** Resolves with everything printed so far once `re` matches it. */
    async until(re: RegExp): Promise<string> {
      while (!re.test(out)) {
        if (child.exitCode !== null) throw new Error(`wscat exited (${child.exitCode}): ${out}`);
        await new Promise<void>((r) => (waiting = r));
      }
      return out;
    },
    async quit(): Promise<number | null> {
      child.stdin.end();
      if (child.exitCode !== null) return child.exitCode;
      return new Promise((r) => child.once("exit", (code) => r(code)));
    },
  };
}

describe("wscat against /ws", { timeout: 20_000 }, () => {
  it("runs the README example: SayHello answers Hello, Bob; plain text gets a frame to copy", async () => {
    const w = wscat();
    await w.until(/Connected/);
    w.type('{"id":"1","method":"example.ExampleService/SayHello","message":{"name":"Bob"}}');
    const first = await w.until(/Hello, Bob/);
    assert.match(first, /"id":"1".*"message":\{"message":"Hello, Bob"\}.*"status":\{"code":"ok"\}/);
    w.type("hello");
    const second = await w.until(/not a JSON frame/);
    assert.match(second, /"example":\{"id":"1","method":"example.ExampleService\/SayHello","message":\{"name":"Bob"\}\}/);
    // Still connected: the next call is answered.
    w.type('{"id":"2","method":"example.ExampleService/SayHello","message":{"name":"Ann"}}');
    await w.until(/Hello, Ann/);
    assert.equal(await w.quit(), 0);
  });
});
