import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { bundlePath } from "../../src/client/bundle.js";
import type { Feature } from "../../src/server.js";
import { ChatService } from "../../src/gen/chat/v1/chat_pb.js";
import { startChatServer, TOKENS, waitForSubscribers } from "../chat/support.js";
import { selfSignedCert } from "../support/tls.js";

const CHROMIUM = "/usr/bin/chromium";
const skip = existsSync(CHROMIUM) ? false : "chromium is not installed (run .ci/install-browser.sh)";

// The committed browser bundle (what the playground serves) and a plain-JS driver on top of it.
const files: Record<string, string> = {
  "/__ws-transport-test/": `<!doctype html><meta charset="utf-8"><title>ws transport</title><script type="module" src="driver.js"></script>`,
  "/__ws-transport-test/oneport-browser.js": readFileSync(bundlePath, "utf8"),
  "/__ws-transport-test/driver.js": readFileSync(new URL("./browser/driver.js", import.meta.url), "utf8"),
};
const testPage: () => Feature = () => ({
  name: "ws-transport-test-page",
  http(req, res) {
    const body = files[req.url ?? ""];
    if (body === undefined) return false;
    res.writeHead(200, { "content-type": req.url!.endsWith("/") ? "text/html; charset=utf-8" : "text/javascript; charset=utf-8" }).end(body);
    return true;
  },
});

// Server-side proof of the path a WebSocket took: the RFC 8441 handler logs each CONNECT stream.
const logLines: { msg: string; httpVersion?: string }[] = [];
const logger = pino({ level: "debug" }, new Writable({ write: (chunk, _e, cb) => (logLines.push(JSON.parse(String(chunk))), cb()) }));
const h2Connects = () => logLines.filter((l) => l.msg.startsWith("websocket over http/2")).length;

const tls = selfSignedCert();
const srv = skip ? undefined : await startChatServer({ server: { tls, logger, features: [() => testPage()] } });

async function openPage(http2: boolean): Promise<{ page: Page; context: BrowserContext; handshakes: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), "oneport-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--ignore-certificate-errors", ...(http2 ? [] : ["--disable-http2"])],
  });
  after(async () => {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  // Browser-side proof: an HTTP/1.1 handshake answers 101, an RFC 8441 one 200.
  const handshakes: number[] = [];
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  cdp.on("Network.webSocketHandshakeResponseReceived", (e) => handshakes.push(e.response.status));
  await page.goto(`${srv!.url.replace("127.0.0.1", "localhost")}/__ws-transport-test/`);
  await page.waitForFunction(() => "oneportTest" in globalThis);
  return { page, context, handshakes };
}

for (const http2 of [false, true]) {
  const path = http2 ? "HTTP/2 extended CONNECT" : "HTTP/1.1 upgrade";
  describe(`a bidi chat from Chromium over the WebSocket transport, ${path}`, { skip }, () => {
    it(`chats with a Connect client in Node, both ways, over ${path}`, async () => {
      const { page, handshakes } = await openPage(http2);
      const before = h2Connects();
      const room = `browser-${http2 ? "h2" : "h1"}`;
      for (const binary of [true, false]) {
        await page.evaluate(([r, t, b]) => ((globalThis as any).chat = (globalThis as any).oneportTest.startChat(r, t, b)), [room, TOKENS.alice, binary] as const);
        // The Node side: bob on the Connect protocol (HTTP/2), sending and subscribing.
        const bob = createClient(ChatService, createConnectTransport({ baseUrl: srv!.url, httpVersion: "2", nodeOptions: { ca: tls.cert } }));
        const auth = { headers: { authorization: `Bearer ${TOKENS.bob}` } };
        const ac = new AbortController();
        const bobSees = bob.subscribe({ room }, { ...auth, signal: ac.signal })[Symbol.asyncIterator]();
        const bobFirst = bobSees.next();
        // Both streams are in the room (Alice's Chat and Bob's Subscribe) before anyone speaks.
        await waitForSubscribers(srv!.broker, room, 2);
        await page.evaluate(() => (globalThis as any).chat.send("hi from chromium"));
        assert.deepEqual(await page.evaluate(() => (globalThis as any).chat.next()), { author: "alice", text: "hi from chromium" });
        await bob.send({ room, text: "hi from node" }, auth);
        assert.deepEqual(await page.evaluate(() => (globalThis as any).chat.next()), { author: "bob", text: "hi from node" });
        const seen = [(await bobFirst).value?.message, (await bobSees.next()).value?.message].map((m) => `${m?.author}: ${m?.text}`);
        assert.deepEqual(seen, ["alice: hi from chromium", "bob: hi from node"]);
        ac.abort();
        await page.evaluate(() => (globalThis as any).chat.close());
        await waitForSubscribers(srv!.broker, room, 0);
      }
      assert.equal(await page.evaluate(() => (globalThis as any).oneportTest.sayHello("Chromium")), "Hello, Chromium");
      // Three sockets (binary chat, JSON chat, SayHello), each over the path this browser was given.
      assert.deepEqual(handshakes, http2 ? [200, 200, 200] : [101, 101, 101]);
      assert.equal(h2Connects() - before, http2 ? 3 : 0);
    });
  });
}
