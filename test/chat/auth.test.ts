import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { authInterceptor, parseTokens } from "../../src/core/auth.js";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { connectJson, grpcJs, grpcWeb, rest, webSocket, type ChatClient, type ChatClientFactory } from "./adapters.js";
import { startChatServer, TOKENS } from "./support.js";

const srv = await startChatServer();

const protocols: Record<string, ChatClientFactory> = {
  grpc: grpcJs,
  connect: connectJson,
  "grpc-web": grpcWeb,
  rest,
  websocket: webSocket,
};

const clients: ChatClient[] = [];
after(() => clients.forEach((c) => c.close()));

/** Credentials that must all be refused: [what, token, raw authorization header]. */
const bad: Array<[string, string | undefined, string | undefined]> = [
  ["no authorization header", undefined, undefined],
  ["an unknown token", "not-a-token", undefined],
  ["another scheme", undefined, `Basic ${Buffer.from("alice:alice-token").toString("base64")}`],
  ["Bearer without a token", undefined, "Bearer"],
];

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail("expected an error"),
    (e: unknown) => ConnectError.from(e),
  );

for (const [proto, make] of Object.entries(protocols)) {
  describe(`chat auth over ${proto}`, () => {
    for (const [what, token, header] of bad) {
      it(`refuses Send with UNAUTHENTICATED given ${what}`, async () => {
        const c = make(srv.url, token, header);
        clients.push(c);
        const err = await codeOf(c.send("lobby", "hi"));
        assert.equal(err.code, Code.Unauthenticated);
        assert.match(err.rawMessage, /token|authorization/i);
      });

      it(`ends Subscribe with UNAUTHENTICATED given ${what}`, async () => {
        const c = make(srv.url, token, header);
        clients.push(c);
        const { received } = c.subscribe("lobby");
        assert.equal(await received.done(), Code.Unauthenticated);
        assert.equal(received.messages.length, 0);
      });
    }

    it("takes the author from the token, not from the request", async () => {
      const c = make(srv.url, TOKENS.bob);
      clients.push(c);
      const msg = await c.send("lobby", "hello from bob");
      assert.equal(msg.author, "bob");
    });

    it("accepts the scheme name in any case", async () => {
      const c = make(srv.url, undefined, `bearer ${TOKENS.carol}`);
      clients.push(c);
      assert.equal((await c.send("lobby", "hi")).author, "carol");
    });
  });
}

describe("auth interceptor scope", () => {
  it("leaves ExampleService open", async () => {
    const client = createClient(ExampleService, createConnectTransport({ baseUrl: srv.url, httpVersion: "1.1" }));
    assert.equal((await client.sayHello({ name: "Bob" })).message, "Hello, Bob");
  });

  it("tells HTTP clients the scheme with WWW-Authenticate", async () => {
    const res = await fetch(`${srv.url}/chat.v1.ChatService/Send`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"room":"lobby","text":"hi"}' });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="oneport"');
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, "unauthenticated");
    assert.match(body.message, /authorization: Bearer <token>/);
  });

  it("rejects an call to chat that no auth interceptor guards with UNAUTHENTICATED, never anonymous", async () => {
    // authInterceptor for another service only: chat has no author and must refuse.
    const other = await startChatServer({ server: { interceptors: [authInterceptor({ tokens: parseTokens("x:y"), services: ["other.Service"] })] } });
    const c = connectJson(other.url, TOKENS.alice);
    clients.push(c);
    const err = await codeOf(c.send("lobby", "hi"));
    assert.equal(err.code, Code.Unauthenticated);
  });
});

describe("parseTokens()", () => {
  it("maps each token to its name", () => {
    assert.deepEqual([...parseTokens("alice:t1, bob:t2,alice:t3")], [["t1", "alice"], ["t2", "bob"], ["t3", "alice"]]);
  });

  it("keeps colons inside the token", () => {
    assert.deepEqual([...parseTokens("alice:a:b")], [["a:b", "alice"]]);
  });

  for (const [spec, error] of [
    ["", /no tokens/],
    ["alice", /expected name:token/],
    [":t1", /expected name:token/],
    ["al ice:t1", /expected name:token/],
    ["alice:", /the token must be/],
    ["alice:t 1", /the token must be/],
    ["alice:t1,bob:t1", /tokens must be unique/],
  ] as const) {
    it(`rejects "${spec}" with a clear message`, () => {
      assert.throws(() => parseTokens(spec), error);
    });
  }

});
