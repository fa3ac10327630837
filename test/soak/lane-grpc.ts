// The gRPC lane: @grpc/grpc-js over HTTP/2 with the generated descriptors, every streaming kind,
// streams cancelled midway, deadlines, injected errors and fresh channels.
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { createGrpcJsClient } from "../../src/client/grpc-js.js";
import { ExampleService, HelloRequestSchema, type HelloResponse } from "../../src/gen/example/example_pb.js";
import { TranscodingService } from "../../src/gen/oneport/testing/v1/transcoding_pb.js";
import { envelope } from "../../src/rpc/wire.js";
import { resetScenario } from "./h2-reset.js";
import type { Lane, LaneEnv } from "./lane.js";

type Client = ReturnType<typeof createGrpcJsClient>;
type Cb<T> = (err: grpc.ServiceError | null, res: T) => void;

const M = "example.ExampleService/";
const P = "grpc";
/** A grpc-js error as a ConnectError (the codes are the same numbers). */
const asConnect = (e: grpc.ServiceError) => new ConnectError(e.details, e.code as number as Code);

const unary = (client: Client, method: string, req: object, opts: grpc.CallOptions = {}) =>
  new Promise<HelloResponse>((resolve, reject) =>
    (client[method] as (r: object, m: grpc.Metadata, o: grpc.CallOptions, cb: Cb<HelloResponse>) => void)(req, new grpc.Metadata(), opts, (err, res) => (err ? reject(asConnect(err)) : resolve(res))),
  );

/** Reads a response stream to its end; `onData` may cancel the call. */
const drain = (call: grpc.ClientReadableStream<HelloResponse> | grpc.ClientDuplexStream<object, HelloResponse>, onData?: (r: HelloResponse, n: number) => void) =>
  new Promise<string[]>((resolve, reject) => {
    const got: string[] = [];
    call.on("data", (r: HelloResponse) => {
      got.push(r.message);
      onData?.(r, got.length);
    });
    call.on("error", (e: grpc.ServiceError) => reject(asConnect(e)));
    call.on("end", () => resolve(got));
  });

/** The gRPC lane over one long-lived channel (plus fresh ones in the churn scenario). */
export function grpcLane(env: LaneEnv): Lane {
  const host = new URL(env.url).host;
  const c = createGrpcJsClient(ExampleService, host);
  const unknown = createGrpcJsClient(TranscodingService, host);
  const { tally } = env;
  let seq = 0;
  const name = () => `grpc-${++seq}`;
  // A bidi stream reset mid-call with INTERNAL_ERROR (grpc-js sends CANCEL); connect-node serves it.
  const reset = resetScenario(P, env, { path: `/${M}Chatter`, contentType: "application/grpc", open: true, body: () => envelope(0, toBinary(HelloRequestSchema, create(HelloRequestSchema, { name: name() }))) }, "bidi");
  const stream = (req: object, opts: grpc.CallOptions = {}) => (c.sayHelloStream as (r: object, o: grpc.CallOptions) => grpc.ClientReadableStream<HelloResponse>)(req, opts);
  const chatter = () => (c.chatter as () => grpc.ClientDuplexStream<object, HelloResponse>)();
  return {
    protocol: P,
    scenarios: [
      {
        name: "unary",
        weight: 8,
        run: () => {
          const n = name();
          return tally.call(P, M + "SayHello", undefined, () => unary(c, "sayHello", { name: n }), (r) => (r.message === `Hello, ${n}` ? undefined : `got ${r.message}`));
        },
      },
      {
        name: "server stream",
        weight: 3,
        run: () => {
          const n = name();
          const want = [1, 2, 3, 4, 5].map((i) => `Hello, ${n} (${i}/5)`).join("|");
          return tally.call(P, M + "SayHelloStream", undefined, () => drain(stream({ name: n, count: 5 })), (got) => (got.join("|") === want ? undefined : `got ${got.join("|")}`));
        },
      },
      {
        name: "server stream cancelled midway",
        weight: 2,
        run: () => {
          const call = stream({ name: name(), count: 50, intervalMs: 20 });
          return tally.call(P, M + "SayHelloStream (client cancels)", Code.Canceled, () => drain(call, (_, n) => n === 2 && call.cancel()));
        },
      },
      {
        name: "deadline exceeded",
        weight: 1,
        run: () => tally.call(P, M + "SayHelloStream (deadline)", Code.DeadlineExceeded, () => drain(stream({ name: name(), count: 5, intervalMs: 400 }, { deadline: new Date(Date.now() + 500) }))),
      },
      { name: "empty name", weight: 1, run: () => tally.call(P, M + "SayHello (empty name)", Code.InvalidArgument, () => unary(c, "sayHello", { name: "" })) },
      {
        name: "over the message limit",
        weight: 1,
        run: () => tally.call(P, M + "SayHello (over limit)", Code.ResourceExhausted, () => unary(c, "sayHello", { name: "x".repeat(env.maxMessageBytes + 100) })),
      },
      { name: "unknown method", weight: 1, run: () => tally.call(P, "oneport.testing.v1.TranscodingService/Echo (unknown)", Code.Unimplemented, () => unary(unknown, "echo", { id: "1" })) },
      {
        name: "client stream",
        weight: 2,
        run: () =>
          tally.call(P, M + "CollectNames", undefined, () =>
            new Promise<HelloResponse>((resolve, reject) => {
              const call = (c.collectNames as (cb: Cb<HelloResponse>) => grpc.ClientWritableStream<object>)((err, r) => (err ? reject(asConnect(err)) : resolve(r)));
              for (const n of ["A", "B", "C"]) call.write({ name: n });
              call.end();
            }), (r) => (r.message === "Hello, A, B, C" ? undefined : `got ${r.message}`)),
      },
      {
        name: "bidi",
        weight: 2,
        run: () => {
          const call = chatter();
          const done = drain(call);
          for (const n of ["X", "Y", "Z"]) call.write({ name: n });
          call.end();
          return tally.call(P, M + "Chatter", undefined, () => done, (got) => (got.join("|") === "Hello, X|Hello, Y|Hello, Z" ? undefined : `got ${got.join("|")}`));
        },
      },
      {
        name: "bidi cancelled midway",
        weight: 1,
        run: () => {
          const call = chatter();
          const done = drain(call, () => call.cancel());
          call.write({ name: "first" });
          return tally.call(P, M + "Chatter (client cancels)", Code.Canceled, () => done);
        },
      },
      reset,
      {
        name: "fresh channel",
        weight: 1,
        run: async () => {
          // A local subchannel pool: a new TCP connection, not the shared one.
          const fresh = createGrpcJsClient(ExampleService, host, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
          try {
            await tally.call(P, M + "SayHello (new channel)", undefined, () => unary(fresh, "sayHello", { name: "new" }));
          } finally {
            fresh.close();
          }
        },
      },
    ],
    async close() {
      c.close();
      unknown.close();
      reset.close();
    },
  };
}
