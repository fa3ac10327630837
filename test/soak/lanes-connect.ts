// Lanes that call ExampleService through a generated Connect client: Connect JSON over HTTP/1.1,
// Connect binary over HTTP/2, gRPC-Web over HTTP/1.1, and the WebSocket bridge in both
// subprotocols (oneport/client's transport). One scenario list, the transport decides the wire.
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { WebSocket } from "ws";
import { createWebSocketTransport } from "../../src/client/index.js";
import { ExampleService, HelloStreamRequestSchema } from "../../src/gen/example/example_pb.js";
import { TranscodingService } from "../../src/gen/oneport/testing/v1/transcoding_pb.js";
import { envelope } from "../../src/rpc/wire.js";
import { resetScenario } from "./h2-reset.js";
import type { Lane, LaneEnv, Scenario } from "./lane.js";

/** A transport and how to release what it holds. */
interface Made {
  transport: Transport;
  close(): Promise<void> | void;
}

/** What a transport can carry: connect-node refuses bidi over HTTP/1.1. */
interface Caps {
  bidi: boolean;
  /** Scenarios that open a new connection for one call, then close it. */
  churn: boolean;
  /** A raw HTTP/2 client resetting a Connect server stream with INTERNAL_ERROR (h2-reset.ts). */
  rawReset?: boolean;
}

const M = "example.ExampleService/";
const names = (...n: string[]) => (async function* () {
  for (const name of n) yield { name };
})();

/** The ExampleService scenarios of one Connect-client lane; shared with no other file. */
function scenarios(protocol: string, env: LaneEnv, make: () => Made, caps: Caps): { list: Scenario[]; close(): Promise<void> } {
  const main = make();
  const c = createClient(ExampleService, main.transport);
  // A service this server does not serve: every call is an unknown method, through the real client.
  const unknown = createClient(TranscodingService, main.transport);
  const { tally } = env;
  let seq = 0;
  const name = () => `${protocol}-${++seq}`;
  const list: Scenario[] = [
    {
      name: "unary",
      weight: 8,
      run: () => {
        const n = name();
        return tally.call(protocol, M + "SayHello", undefined, () => c.sayHello({ name: n }), (r) => (r.message === `Hello, ${n}` ? undefined : `got ${JSON.stringify(r.message)}`));
      },
    },
    {
      name: "server stream",
      weight: 3,
      run: () => {
        const n = name();
        const want = [1, 2, 3, 4, 5].map((i) => `Hello, ${n} (${i}/5)`).join("|");
        return tally.call(protocol, M + "SayHelloStream", undefined, async () => {
          const got: string[] = [];
          for await (const r of c.sayHelloStream({ name: n, count: 5 })) got.push(r.message);
          return got.join("|");
        }, (got) => (got === want ? undefined : `got ${got}`));
      },
    },
    {
      name: "server stream cancelled midway",
      weight: 2,
      run: () =>
        tally.call(protocol, M + "SayHelloStream (client aborts)", Code.Canceled, async () => {
          const ac = new AbortController();
          let n = 0;
          for await (const _ of c.sayHelloStream({ name: name(), count: 50, intervalMs: 20 }, { signal: ac.signal })) if (++n === 2) ac.abort();
        }),
    },
    {
      name: "deadline exceeded",
      weight: 1,
      run: () =>
        tally.call(protocol, M + "SayHelloStream (deadline)", Code.DeadlineExceeded, async () => {
          for await (const _ of c.sayHelloStream({ name: name(), count: 5, intervalMs: 400 }, { timeoutMs: 500 }));
        }),
    },
    { name: "empty name", weight: 1, run: () => tally.call(protocol, M + "SayHello (empty name)", Code.InvalidArgument, () => c.sayHello({ name: "" })) },
    {
      name: "over the message limit",
      weight: 1,
      run: () => tally.call(protocol, M + "SayHello (over limit)", Code.ResourceExhausted, () => c.sayHello({ name: "x".repeat(env.maxMessageBytes + 100) })),
    },
    { name: "unknown method", weight: 1, run: () => tally.call(protocol, "oneport.testing.v1.TranscodingService/Echo (unknown)", Code.Unimplemented, () => unknown.echo({ id: "1" })) },
    {
      name: "client stream",
      weight: 2,
      run: () => tally.call(protocol, M + "CollectNames", undefined, () => c.collectNames(names("A", "B", "C")), (r) => (r.message === "Hello, A, B, C" ? undefined : `got ${r.message}`)),
    },
  ];
  if (caps.bidi) {
    list.push(
      {
        name: "bidi",
        weight: 2,
        run: () =>
          tally.call(protocol, M + "Chatter", undefined, async () => {
            const got: string[] = [];
            for await (const r of c.chatter(names("X", "Y", "Z"))) got.push(r.message);
            return got.join("|");
          }, (got) => (got === "Hello, X|Hello, Y|Hello, Z" ? undefined : `got ${got}`)),
      },
      {
        name: "bidi cancelled midway",
        weight: 1,
        run: () =>
          tally.call(protocol, M + "Chatter (client aborts)", Code.Canceled, async () => {
            const ac = new AbortController();
            const reqs = (async function* () {
              yield { name: "first" };
              // Keeps the request side open until the client aborts.
              await new Promise((r) => ac.signal.addEventListener("abort", r, { once: true }));
            })();
            for await (const _ of c.chatter(reqs, { signal: ac.signal })) ac.abort();
          }),
      },
    );
  }
  if (caps.churn) {
    list.push({
      name: "fresh connection",
      weight: 1,
      run: async () => {
        const fresh = make();
        try {
          await tally.call(protocol, M + "SayHello (new connection)", undefined, () => createClient(ExampleService, fresh.transport).sayHello({ name: "new" }));
        } finally {
          await fresh.close();
        }
      },
    });
  }
  // A Connect server stream (connect-node serves it) reset mid-way with INTERNAL_ERROR.
  const reset = caps.rawReset
    ? resetScenario(protocol, env, { path: `/${M}SayHelloStream`, contentType: "application/connect+proto", open: false, body: () => envelope(0, toBinary(HelloStreamRequestSchema, create(HelloStreamRequestSchema, { name: name(), count: 3, intervalMs: 2000 }))) }, "server stream")
    : undefined;
  if (reset) list.push(reset);
  return { list, close: async () => void (reset?.close(), await main.close()) };
}

function lane(protocol: string, env: LaneEnv, make: () => Made, caps: Caps): Lane {
  const s = scenarios(protocol, env, make, caps);
  return { protocol, scenarios: s.list, close: s.close };
}

/** Connect protocol, JSON, HTTP/1.1. */
export const connectJsonLane = (env: LaneEnv): Lane =>
  lane("connect-json-h1", env, () => ({ transport: createConnectTransport({ baseUrl: env.url, httpVersion: "1.1", useBinaryFormat: false }), close() {} }), { bidi: false, churn: false });

/** Connect protocol, binary, HTTP/2 (its own session, so that a fresh one can be closed). */
export const connectProtoLane = (env: LaneEnv): Lane =>
  lane("connect-proto-h2", env, () => {
    const sessionManager = new Http2SessionManager(env.url);
    return { transport: createConnectTransport({ baseUrl: env.url, httpVersion: "2", useBinaryFormat: true, sessionManager }), close: () => sessionManager.abort() };
  }, { bidi: true, churn: true, rawReset: true });

/** gRPC-Web, binary, HTTP/1.1. */
export const grpcWebLane = (env: LaneEnv): Lane =>
  lane("grpc-web", env, () => ({ transport: createGrpcWebTransport({ baseUrl: env.url, httpVersion: "1.1" }), close() {} }), { bidi: false, churn: false });

/** The WebSocket bridge through oneport/client, JSON (`oneport.json.v1`) or binary (`oneport.proto.v1`) frames. */
export const wsLane = (env: LaneEnv, binary: boolean): Lane =>
  lane(binary ? "ws-proto" : "ws-json", env, () => {
    // Timeouts as long as a scenario's: on a starved machine a handshake or a pong can take seconds.
    const transport = createWebSocketTransport({ baseUrl: env.url, WebSocket, useBinaryFormat: binary, maxMessageBytes: env.maxMessageBytes * 2, connectTimeoutMs: 60_000, heartbeatTimeoutMs: 60_000 });
    return { transport, close: () => transport.close() };
  }, { bidi: true, churn: true });
