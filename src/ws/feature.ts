import { createRegistry } from "@bufbuild/protobuf";
import { WebSocketServer } from "ws";
import { pathOf } from "../http/dispatcher.js";
import type { Feature, ServerContext } from "../server.js";
import { exampleFrame, exampleMethod } from "./example.js";
import { subprotocols, type ServerFrame, type WireFormat } from "./frame.js";
import { MessageCodec } from "./message.js";
import { Session, type SessionEnv } from "./session.js";
import { callHeaders, checkUpgrade, refuseUpgrade } from "./upgrade.js";

/**
 * The WebSocket bridge at /ws: every registered method, all four streaming kinds, multiplexed by
 * client-chosen ids, through the same Pipeline as every other protocol. See docs/websocket.md.
 */
export function wsFeature(ctx: ServerContext): Feature {
  const opts = ctx.options.ws;
  if (!opts.enabled) return { name: "ws" };
  const sessions = new Set<Session>();
  ctx.metrics?.watchWebSockets(() => ({ connections: sessions.size, streams: [...sessions].reduce((n, s) => n + s.openStreams, 0) }));
  let closing = false;

  const protoRegistry = createRegistry(...ctx.registry.files());
  const codecs: Record<WireFormat, MessageCodec> = {
    json: new MessageCodec("json", protoRegistry, ctx.options.limits.maxMessageBytes, ctx.options.limits.maxSendMessageBytes),
    proto: new MessageCodec("proto", protoRegistry, ctx.options.limits.maxMessageBytes, ctx.options.limits.maxSendMessageBytes),
  };
  const m = exampleMethod(ctx.registry);
  const examples: Record<WireFormat, ServerFrame["example"]> = {
    json: m && exampleFrame(m, "json"),
    proto: m && exampleFrame(m, "proto"),
  };
  const env: SessionEnv = {
    registry: ctx.registry,
    pipeline: ctx.pipeline,
    logger: ctx.logger,
    options: opts,
    codec: (f) => codecs[f],
    example: (f) => examples[f],
    closed: (s) => sessions.delete(s),
  };

  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    // Frames up to twice the limit are read so they can fail only their own stream; beyond that ws
    // closes the connection with 1009 rather than buffer without bound.
    maxPayload: opts.maxFrameBytes * 2,
    // The client's first known subprotocol, as checkUpgrade chose it (it refused offers of none).
    handleProtocols: (offered) => [...offered].find((p) => known.has(p)) ?? false,
  });
  const known = new Set(Object.values(subprotocols));

  // One timer per bridge, not per connection: idle connections stay cheap.
  const timers: NodeJS.Timeout[] = [];
  if (opts.pingIntervalMs > 0) timers.push(setInterval(() => sessions.forEach((s) => s.heartbeat()), opts.pingIntervalMs));
  if (opts.idleTimeoutMs > 0) {
    const every = Math.max(10, Math.min(1000, Math.floor(opts.idleTimeoutMs / 4)));
    timers.push(setInterval(() => {
      const now = Date.now();
      sessions.forEach((s) => s.idleCheck(now));
    }, every));
  }
  timers.forEach((t) => t.unref());

  return {
    name: "ws",
    upgrade(req, socket, head) {
      if (pathOf(req.url) !== opts.path) return false;
      const verdict = checkUpgrade(req.headers, { allowedOrigins: opts.allowedOrigins, connections: sessions.size, maxConnections: opts.maxConnections, closing });
      if ("status" in verdict) {
        ctx.logger.debug({ status: verdict.status, origin: req.headers.origin }, verdict.message);
        refuseUpgrade(socket, verdict.status, { code: verdict.code, message: verdict.message });
        return true;
      }
      const accept = (authorization?: string) => {
        const secure = "encrypted" in socket && socket.encrypted === true;
        const url = `${secure ? "wss" : "ws"}://${req.headers.host ?? "localhost"}${req.url ?? opts.path}`;
        const headers = callHeaders(req.headers);
        // A token from the subprotocol, cookie or query becomes the calls' Authorization (frames may override it).
        if (authorization !== undefined) headers.set("authorization", authorization);
        wss.handleUpgrade(req, socket, head, (ws) => {
          if (closing) return ws.close(1001, "server shutting down");
          sessions.add(new Session(ws, env, { headers, url }, verdict.format));
        });
      };
      // Credentials presented at the upgrade are verified before it completes (src/auth/auth.ts); bad ones get 401.
      if (!ctx.auth) accept();
      else ctx.auth.upgrade(req).then((g) => ("status" in g ? refuseUpgrade(socket, g.status, g.body, g.headers) : accept(g.authorization)), () => socket.destroy());
      return true;
    },
    async close() {
      closing = true;
      timers.forEach(clearInterval);
      await Promise.all([...sessions].map((s) => s.shutdown(ctx.options.limits.shutdownTimeoutMs)));
    },
  };
}
