import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { chromium } from "playwright-core";
import { createGrpcJsClient } from "../../src/client/grpc-js.js";
import { authInterceptor, parseTokens } from "../../src/core/auth.js";
import { ChatService, type SendResponse, type SubscribeResponse } from "../../src/gen/chat/v1/chat_pb.js";
import { playgroundFeature } from "../../src/playground/feature.js";
import { startChatServer, TOKENS, waitForSubscribers } from "../chat/support.js";

const CHROMIUM = "/usr/bin/chromium";
const skip = existsSync(CHROMIUM) ? false : "chromium is not installed (run .ci/install-browser.sh)";
const artifacts = new URL("../artifacts/", import.meta.url);

describe("playground in headless Chromium", { skip }, async () => {
  const devTokens = parseTokens(`alice:${TOKENS.alice}`);
  const srv = await startChatServer({ server: { features: [playgroundFeature({ devTokens })] } });
  const profile = mkdtempSync(join(tmpdir(), "oneport-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const grpcClient = createGrpcJsClient(ChatService, `127.0.0.1:${srv.port}`);
  after(async () => {
    grpcClient.close();
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  });
  const md = () => {
    const m = new grpc.Metadata();
    m.set("authorization", `Bearer ${TOKENS.bob}`);
    return m;
  };

  const page = await browser.newPage();
  // Anything the page logs as an error (a CSP violation, a failed module, an exception) fails the test.
  const problems: string[] = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(e.message));

  it("loads, lists the registered services and links to the docs", async () => {
    await page.goto(srv.url);
    await page.waitForSelector("body[data-ready=true]");
    const services = await page.locator("#services > li > strong").allTextContents();
    assert.deepEqual(services, srv.server.context.registry.services().map((s) => s.typeName));
    assert.equal(await page.getAttribute("#link-docs", "href"), "/docs");
    assert.equal(await page.getAttribute("#link-asyncapi", "href"), "/asyncapi.json");
    assert.equal(await page.inputValue("#chat-token"), TOKENS.alice, "the dev token is offered");
  });

  it("calls SayHello over Connect (fetch) and over the WebSocket bridge", async () => {
    await page.fill("#hello-name", "Chromium");
    await page.click("#hello-connect");
    await page.click("#hello-ws");
    assert.equal(await page.textContent('#hello-results li[data-protocol="Connect"].ok', { timeout: 10_000 }), "Connect Hello, Chromium");
    assert.equal(await page.textContent('#hello-results li[data-protocol="WebSocket"].ok', { timeout: 10_000 }), "WebSocket Hello, Chromium");
  });

  it("shows live a chat message that a grpc-js client sent", async () => {
    await page.fill("#chat-room", "browser");
    await page.click("#chat-join");
    await waitForSubscribers(srv.broker, "browser", 1);
    const sent = await new Promise<SendResponse>((resolve, reject) =>
      grpcClient.send({ room: "browser", text: "hello from grpc-js" }, md(), (err: grpc.ServiceError | null, res: SendResponse) => (err ? reject(err) : resolve(res))),
    );
    const row = page.locator(`#chat-messages li[data-id="${sent.message?.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.deepEqual(await row.locator("strong, span").allTextContents(), ["bob", "hello from grpc-js"]);
  });

  it("sends over the WebSocket and over Connect to a grpc-js subscriber", async () => {
    const call = grpcClient.subscribe({ room: "browser" }, md()) as grpc.ClientReadableStream<SubscribeResponse>;
    const got: string[] = [];
    call.on("data", (r: SubscribeResponse) => got.push(`${r.message?.author}: ${r.message?.text}`));
    call.on("error", () => {});
    await waitForSubscribers(srv.broker, "browser", 2);
    await page.fill("#chat-text", "typed in the browser");
    await page.selectOption("#send-protocol", "ws");
    await page.click("#chat-send");
    await page.locator('#chat-messages li:has-text("typed in the browser")').waitFor({ timeout: 10_000 });
    await page.fill("#chat-text", "sent with fetch");
    await page.selectOption("#send-protocol", "connect");
    await page.click("#chat-send");
    await page.locator('#chat-messages li:has-text("sent with fetch")').waitFor({ timeout: 10_000 });
    while (got.length < 2) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(got, ["alice: typed in the browser", "alice: sent with fetch"]);
    call.cancel();

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: new URL("playground.png", artifacts).pathname, fullPage: true });
  });

  it("shows UNAUTHENTICATED when the token is wrong", async () => {
    await page.click("#chat-leave");
    await page.fill("#chat-token", "wrong-token");
    await page.click("#chat-join");
    await page.locator("#chat-status.error").waitFor({ timeout: 10_000 });
    assert.match((await page.textContent("#chat-status")) ?? "", /unauthenticated: unknown token/);
    // Chromium logs the refused History request (401) itself; anything else is a problem of the page.
    assert.deepEqual(problems.filter((p) => !/status of 401 \(Unauthorized\)/.test(p)), []);
  });
});

describe("playground when the server ends a subscription", { skip }, async () => {
  // Every stream is ended by the server after 1 s here (as a restart would), so the page must rejoin.
  const endStreams: Interceptor = (next) => async (req) => {
    const res = await next(req);
    if (!res.stream) return res;
    const started = Date.now();
    const message = res.message;
    return {
      ...res,
      message: (async function* () {
        const it = message[Symbol.asyncIterator]();
        for (;;) {
          const left = 1000 - (Date.now() - started);
          if (left <= 0) break;
          let timer: NodeJS.Timeout | undefined;
          const next = await Promise.race([it.next(), new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), left)))]);
          clearTimeout(timer);
          if (next === "timeout") break;
          if (next.done) return;
          yield next.value;
        }
        // Not awaited: a bidi implementation may be waiting for its next request.
        void it.return?.();
        throw new ConnectError("the server ended the stream (test)", Code.Unavailable);
      })(),
    };
  };
  const auth = authInterceptor({ tokens: parseTokens(Object.entries(TOKENS).map(([n, t]) => `${n}:${t}`).join(",")), services: [ChatService.typeName] });
  const srv = await startChatServer({ server: { interceptors: [auth, endStreams], features: [playgroundFeature({ devTokens: parseTokens(`alice:${TOKENS.alice}`) })] } });
  const profile = mkdtempSync(join(tmpdir(), "oneport-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  after(async () => {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  });

  it("joins again by itself and catches up from History", async () => {
    const page = await browser.newPage();
    await page.goto(srv.url);
    await page.waitForSelector("body[data-ready=true]");
    await page.fill("#chat-room", "rejoin");
    await page.click("#chat-join");
    await waitForSubscribers(srv.broker, "rejoin", 1);
    await page.locator('#chat-status:has-text("joining again")').waitFor({ timeout: 10_000 });
    // Sent while the page is between two subscriptions (or just after): it must show either way.
    const gap = await srv.rooms.compose("rejoin", "bob", "sent in the gap");
    await srv.rooms.publish(gap);
    await page.locator(`#chat-messages li[data-id="${gap.id}"]`).waitFor({ timeout: 10_000 });
    await page.locator('#chat-status:has-text("In room")').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator("#chat-messages li").count(), 1, "shown once");
  });
});
