import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { createGrpcJsClient } from "../../src/client/grpc-js.js";
import { ExampleService, type HelloResponse } from "../../src/gen/example/example_pb.js";
import { startServer } from "../support/server.js";

const { port } = await startServer();
const client = createGrpcJsClient(ExampleService, `127.0.0.1:${port}`);
after(() => client.close());

type Cb<T> = (err: grpc.ServiceError | null, res: T) => void;
const unary = (req: object, md = new grpc.Metadata()) =>
  new Promise<{ res?: HelloResponse; err?: grpc.ServiceError }>((resolve) =>
    (client.sayHello as (r: object, m: grpc.Metadata, cb: Cb<HelloResponse>) => void)(req, md, (err, res) => resolve(err ? { err } : { res })),
  );

describe("ExampleService over @grpc/grpc-js", () => {
  it("answers SayHello", async () => {
    const { res } = await unary({ name: "Bob" });
    assert.equal(res?.message, "Hello, Bob");
  });

  it("maps an empty name to INVALID_ARGUMENT with the message", async () => {
    const { err } = await unary({ name: "" });
    assert.equal(err?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(err?.details ?? "", /name must not be empty/);
  });

  it("answers UNIMPLEMENTED, naming the method, for a method the server does not have", async () => {
    const raw = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    after(() => raw.close());
    const id = (b: Buffer) => b;
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      raw.makeUnaryRequest("/example.ExampleService/NoSuchMethod", id, id, Buffer.alloc(0), (e) => resolve(e)),
    );
    assert.equal(err?.code, grpc.status.UNIMPLEMENTED);
    // grpc-js decodes grpc-message with decodeURI: ":" and "/" must come unencoded.
    assert.match(err?.details ?? "", /^unknown method example\.ExampleService\/NoSuchMethod: see /);
  });

  it("streams from SayHelloStream", async () => {
    const call = (client.sayHelloStream as (r: object) => grpc.ClientReadableStream<HelloResponse>)({ name: "Ann", count: 2 });
    const got: string[] = [];
    for await (const r of call) got.push((r as HelloResponse).message);
    assert.deepEqual(got, ["Hello, Ann (1/2)", "Hello, Ann (2/2)"]);
  });

  it("collects a client stream", async () => {
    const res = await new Promise<HelloResponse>((resolve, reject) => {
      const call = (client.collectNames as (cb: Cb<HelloResponse>) => grpc.ClientWritableStream<object>)((err, r) => (err ? reject(err) : resolve(r)));
      call.write({ name: "A" });
      call.write({ name: "B" });
      call.end();
    });
    assert.equal(res.message, "Hello, A, B");
  });

  it("answers each bidi message as it arrives", async () => {
    const call = (client.chatter as () => grpc.ClientDuplexStream<object, HelloResponse>)();
    const first = new Promise<HelloResponse>((resolve) => call.once("data", resolve));
    call.write({ name: "X" });
    // The first answer arrives before the client half-closes: the stream is really bidirectional.
    assert.equal((await first).message, "Hello, X");
    const rest: string[] = [];
    call.on("data", (r: HelloResponse) => rest.push(r.message));
    call.write({ name: "Y" });
    call.end();
    await new Promise((resolve) => call.on("end", resolve));
    assert.deepEqual(rest, ["Hello, Y"]);
  });

  it("ends a call that passes its deadline with DEADLINE_EXCEEDED", async () => {
    const call = (client.sayHelloStream as (r: object, o: grpc.CallOptions) => grpc.ClientReadableStream<HelloResponse>)(
      { name: "Slow", count: 5, intervalMs: 1000 },
      { deadline: new Date(Date.now() + 200) },
    );
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      call.on("data", () => {});
      call.on("error", resolve);
    });
    assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
  });
});
