import { connectNodeAdapter } from "@connectrpc/connect-node";
import { pathOf } from "../http/dispatcher.js";
import type { Feature, ServerContext } from "../server.js";

/** gRPC, gRPC-Web and Connect through connect-node, for every registered method. */
export function rpcFeature(ctx: ServerContext): Feature {
  const { limits } = ctx.options;
  const adapter = connectNodeAdapter({
    routes: (router) => {
      for (const r of ctx.registry.registrations()) router.service(r.service, r.impl);
    },
    interceptors: ctx.pipeline.interceptors,
    readMaxBytes: limits.maxMessageBytes,
    writeMaxBytes: limits.maxMessageBytes,
    maxTimeoutMs: limits.maxTimeoutMs,
    shutdownSignal: ctx.shutdownSignal,
  });
  return {
    name: "rpc",
    http(req, res) {
      if (!ctx.registry.lookup(pathOf(req.url))) return false;
      adapter(req, res);
      return true;
    },
  };
}
