import * as http2 from "node:http2";
import { Code, ConnectError, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { service } from "../../src/config.js";
import { protocolKey } from "../../src/core/pipeline.js";
import { ExampleService, HelloResponseSchema, type HelloRequest } from "../../src/gen/example/example_pb.js";
import { exampleService } from "../../src/services/example.js";
import { startServer, type TestServer } from "../support/server.js";

/** What the test service saw of the last calls. */
export interface Seen {
  /** Protocols named by the Pipeline context (empty for calls connect-node served). */
  protocols: string[];
  /** How the signal of the last "slow" call ended. */
  abortReason?: unknown;
  /** The request header "x-test" of the last call. */
  header?: string | null;
  /** timeoutMs() as the implementation saw it on the last call. */
  timeoutMs?: number;
}

/**
 * A server whose SayHello behaves by name: "slow" waits for its signal, "boom" throws a plain Error
 * with a secret, "denied" a ConnectError with details and metadata, "meta" echoes x-test and sets
 * headers and trailers, "big:N" answers N bytes; anything else greets as usual.
 */
export async function startTestServer(limits: Record<string, number> = {}): Promise<TestServer & { seen: Seen }> {
  const seen: Seen = { protocols: [] };
  const recorder: Interceptor = (next) => (req) => {
    seen.protocols.push(req.contextValues.get(protocolKey));
    return next(req);
  };
  const base = exampleService().impl as Record<string, unknown>;
  const impl = service(ExampleService, {
    ...(base as object),
    async sayHello(req: HelloRequest, ctx: HandlerContext) {
      seen.header = ctx.requestHeader.get("x-test");
      seen.timeoutMs = ctx.timeoutMs();
      if (req.name === "slow") {
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
        seen.abortReason = ctx.signal.reason;
        throw ConnectError.from(ctx.signal.reason);
      }
      if (req.name === "boom") throw new Error("secret database password in /etc/app");
      if (req.name === "denied") {
        const err = new ConnectError("not yours", Code.PermissionDenied, { "x-why": "owner-only" });
        err.details.push({ desc: HelloResponseSchema, value: create(HelloResponseSchema, { message: "detail" }) });
        throw err;
      }
      if (req.name === "meta") {
        ctx.responseHeader.set("x-header", "h1");
        ctx.responseTrailer.set("x-trailer", "t1");
        return { message: `x-test=${seen.header ?? ""}` };
      }
      if (req.name.startsWith("big:")) return { message: "x".repeat(Number(req.name.slice(4))) };
      return { message: `Hello, ${req.name}` };
    },
  });
  const s = await startServer({ services: [impl], interceptors: [recorder], limits });
  return { ...s, seen };
}

/** One raw HTTP/2 request; returns status, headers, trailers and body bytes. */
export function h2request(url: string, headers: http2.OutgoingHttpHeaders, body?: Buffer) {
  return new Promise<{ status: number; headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const req = session.request({ ":method": "POST", ...headers });
    let res: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on("response", (h) => (res = h));
    req.on("trailers", (t) => (trailers = t));
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      session.close();
      resolve({ status: Number(res[":status"]), headers: res, trailers, body: Buffer.concat(chunks) });
    });
    req.on("error", (e) => {
      session.close();
      reject(e);
    });
    req.end(body);
  });
}

/** A gRPC frame (5-byte envelope) around bytes. */
export function frame(bytes: Uint8Array, flags = 0): Buffer {
  const b = Buffer.alloc(5 + bytes.length);
  b[0] = flags;
  b.writeUInt32BE(bytes.length, 1);
  b.set(bytes, 5);
  return b;
}

/** grpc-status from trailers, or from headers for a trailers-only response. */
export function grpcStatus(r: { headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders }): string {
  return String(r.trailers["grpc-status"] ?? r.headers["grpc-status"]);
}
