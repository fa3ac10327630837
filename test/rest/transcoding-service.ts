// The test-only TranscodingService (proto/oneport/testing/v1/transcoding.proto), registered with
// startServer({services: [...]}) by the REST tests.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { service, type ServiceRegistration } from "../../src/config.js";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { TranscodingService } from "../../src/gen/oneport/testing/v1/transcoding_pb.js";

/** Counters a test can read to see what the implementation did. */
export interface ServiceProbe {
  /** Messages yielded by Count so far (all calls). */
  yielded: number;
  /** Count calls whose stream ended because the client went away. */
  cancelled: number;
  /** When set, Count waits for it after its first message (a test releases it once that message arrived). */
  hold?: Promise<void>;
}

const wait = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), reject(ConnectError.from(signal.reason, Code.Canceled))), { once: true });
  });

/** The TranscodingService implementation and a probe into it. */
export function transcodingService(probe: ServiceProbe = { yielded: 0, cancelled: 0 }): ServiceRegistration {
  return service(TranscodingService, {
    echo: (req) => ({ request: req, message: `echo ${req.id}` }),
    echoMessage: (req) => ({ request: req, message: `echo ${req.id}` }),
    getFile: (req) => ({ name: req.name, contentType: "text/plain", size: BigInt(req.name.length) }),
    getRoom: (req) => ({ name: req.name }),
    archiveRoom: (req) => ({ name: req.name, archived: true, reason: req.reason }),
    upload: (req) => ({ name: req.name, contentType: req.data?.contentType ?? "", size: BigInt(req.data?.data.length ?? 0) }),
    download: (req) => {
      if (req.name.endsWith(".png")) return { contentType: "image/png", data: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 255]) };
      return { contentType: "text/plain; charset=utf-8", data: new TextEncoder().encode(`contents of ${req.name}`) };
    },
    fail: (req) => {
      if (req.code < 1 || req.code > 16) throw new ConnectError("code must be from 1 to 16", Code.InvalidArgument);
      const err = new ConnectError(`failing with ${Code[req.code]}`, req.code as Code);
      err.details.push({ desc: ErrorInfoSchema, value: { reason: "TEST_FAILURE", domain: "oneport.test", metadata: { code: String(req.code) } } });
      throw err;
    },
    async *count(req, ctx: HandlerContext) {
      const padding = "x".repeat(Math.min(req.padding, 1 << 20));
      try {
        if (req.delayMs > 0) await wait(req.delayMs, ctx.signal);
        for (let i = 1; req.n === 0 || i <= req.n; i++) {
          if (req.failAfter > 0 && i > req.failAfter) throw new ConnectError(`stopped after ${req.failAfter}`, Code.Aborted);
          if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason, Code.Canceled);
          probe.yielded++;
          yield { number: i, padding };
          if (i === 1 && probe.hold) await probe.hold;
          // An endless stream yields to the event loop so the client's going away is noticed.
          if (req.n === 0) await new Promise((r) => setImmediate(r));
        }
      } finally {
        if (ctx.signal.aborted) probe.cancelled++;
      }
    },
    metadata: (_req, ctx: HandlerContext) => {
      const headers: Record<string, string> = {};
      ctx.requestHeader.forEach((v, k) => (headers[k] = v));
      ctx.responseHeader.set("x-answer", "42");
      ctx.responseTrailer.set("x-checksum", "abc");
      return { headers, timeoutMs: BigInt(Math.round(ctx.timeoutMs() ?? 0)) };
    },
    async sleep(req, ctx: HandlerContext) {
      await wait(req.ms, ctx.signal);
      return {};
    },
    async sum(reqs) {
      let total = 0n;
      for await (const r of reqs) total += r.value;
      return { total };
    },
    async *runningSum(reqs) {
      let total = 0n;
      for await (const r of reqs) yield { total: (total += r.value) };
    },
  });
}

/** An ErrorInfo detail as the tests expect it back. */
export const errorInfo = (code: number) => create(ErrorInfoSchema, { reason: "TEST_FAILURE", domain: "oneport.test", metadata: { code: String(code) } });

/** Waits until Count stops producing: `probe.yielded` unchanged over five 50 ms turns (a reader that never reads). */
export async function producerSettled(probe: ServiceProbe): Promise<void> {
  let last = -1;
  for (let stable = 0; stable < 5; ) {
    await new Promise((r) => setTimeout(r, 50));
    stable = probe.yielded === last ? stable + 1 : 0;
    last = probe.yielded;
  }
}
