import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { Code, ConnectError } from "@connectrpc/connect";
import { resolveOptions, type ResolvedOptions, type ServerOptions } from "./config.js";
import { errorInterceptor } from "./core/errors.js";
import { loggingInterceptor } from "./core/logging.js";
import { Pipeline } from "./core/pipeline.js";
import { Registry } from "./core/registry.js";
import { createDispatcher } from "./http/dispatcher.js";
import { createListener } from "./http/listener.js";
import { opsHandler } from "./http/ops.js";
import type { HttpHandler, StreamHandler, UpgradeHandler } from "./http/types.js";
import { silentLogger } from "./log.js";
import { HealthState, healthService, ServingStatus } from "./services/health.js";
import { reflectionServices } from "./services/reflection.js";
import { rpcFeature } from "./rpc/feature.js";
import { wsFeature } from "./ws/feature.js";
import { asyncApiFeature } from "./docs/asyncapi.js";
import { http2WebSocketFeature } from "./ws/http2-connect.js";
import { unknownRpcFeature } from "./rpc/unknown.js";
import { corsFeature } from "./http/cors.js";
import { restFeature } from "./rest/feature.js";
import { docsFeature } from "./docs/feature.js";
import { Auth } from "./auth/auth.js";
import { metricsFeature } from "./observability/endpoint.js";
import { ServerMetrics } from "./observability/metrics.js";
import { tracingInterceptor } from "./observability/tracing.js";

/** What a feature (REST, WebSocket, docs, ...) gets to build itself from. */
export interface ServerContext {
  readonly options: ResolvedOptions;
  readonly registry: Registry;
  readonly pipeline: Pipeline;
  readonly logger: Logger;
  readonly health: HealthState;
  readonly shutdownSignal: AbortSignal;
  /** The auth layer when ServerOptions.auth is set: edges (WebSocket upgrade, REST) ask it before they start a call. */
  readonly auth?: Auth;
  /** The server's metrics (options.metrics); undefined when they are disabled. */
  readonly metrics?: ServerMetrics;
}

/** A part of the server that takes some requests, upgrades or raw HTTP/2 streams. */
export interface Feature {
  readonly name: string;
  http?: HttpHandler;
  upgrade?: UpgradeHandler;
  stream?: StreamHandler;
  /** Ends the feature's long-lived work at shutdown (after the grace period starts). */
  close?(): Promise<void>;
}

/** A oneport server: one port, every protocol. */
export interface OneportServer {
  /** Binds the port (port 0 picks a free one) and starts serving. */
  listen(): Promise<AddressInfo>;
  /** Graceful shutdown: NOT_SERVING, stop accepting, GOAWAY, let calls finish, then close. */
  close(): Promise<void>;
  /** The bound address; throws before listen(). */
  readonly address: AddressInfo;
  /** The bound port; throws before listen(). */
  readonly port: number;
  /** "http" or "https". */
  readonly scheme: string;
  readonly context: ServerContext;
}

/** Creates a server from options; see ServerOptions. Nothing is bound until listen(). */
export function createServer(opts: Partial<ServerOptions> = {}): OneportServer {
  const options = resolveOptions(opts);
  const logger = options.logger ?? silentLogger;
  const shutdown = new AbortController();
  const registry = new Registry();
  const health = new HealthState();
  for (const s of options.services) registry.add(s);
  if (options.health) registry.add(healthService(health));
  if (options.reflection) reflectionServices(registry).forEach((s) => registry.add(s));

  const metrics = options.metrics.enabled ? new ServerMetrics(options.metrics) : undefined;
  // Tracing and metrics outermost, then logging (they all see the final code), then the error guard
  // around user interceptors and services.
  const observers = [...(options.tracing.enabled ? [tracingInterceptor(options.tracing)] : []), ...(metrics ? [metrics.interceptor] : [])];
  // Auth after the error guard (its refusals are deliberate ConnectErrors), before the user's interceptors (they see the Principal).
  const auth = options.auth ? new Auth(options.auth, logger) : undefined;
  auth?.warnUnused(registry.methods().map((m) => m.path.slice(1)));
  const interceptors = [...observers, loggingInterceptor(logger), errorInterceptor(logger), ...(auth ? [auth.interceptor()] : []), ...options.interceptors];
  const pipeline = new Pipeline(interceptors, shutdown.signal, options.limits.maxTimeoutMs, options.limits.unaryTimeoutMs, logger, options.interceptors.length);
  const context: ServerContext = { options, registry, pipeline, logger, health, shutdownSignal: shutdown.signal, auth, metrics };

  // Order matters: the first feature that takes a request serves it.
  const features: Feature[] = [
    corsFeature(context), // first: preflight answers and CORS headers for every protocol
    rpcFeature(context),
    restFeature(context),
    { name: "ops", http: opsHandler(health) },
    metricsFeature(context), // GET /metrics (options.metrics.path)
    docsFeature(context),
    wsFeature(context),
    asyncApiFeature(context),
    http2WebSocketFeature((req, socket, head) => upgrades.some((u) => u(req, socket, head)), logger), // RFC 8441: /ws over HTTP/2 streams
    ...options.features.map((make) => make(context)),
    unknownRpcFeature(), // keep last: answers RPC-shaped requests nothing else took
  ];
  const httpHandlers = features.flatMap((f) => (f.http ? [f.http] : []));
  const upgrades = features.flatMap((f) => (f.upgrade ? [f.upgrade] : []));
  const streams = features.flatMap((f) => (f.stream ? [f.stream] : []));
  const listener = createListener(
    options.limits,
    options.tls,
    {
      request: createDispatcher(httpHandlers, logger),
      upgrade: (req, socket, head) => upgrades.some((u) => u(req, socket, head)),
      stream: streams.length > 0 ? (stream, headers) => streams.some((s) => s(stream, headers)) : undefined,
      connection: metrics?.connection,
      http2Ended: metrics?.http2Ended,
    },
    logger,
  );

  let address: AddressInfo | undefined;
  let closing: Promise<void> | undefined;
  return {
    context,
    scheme: options.tls ? "https" : "http",
    get address() {
      if (!address) throw new Error("server is not listening; call listen() first");
      return address;
    },
    get port() {
      return this.address.port;
    },
    async listen() {
      address = await listener.listen(options.port, options.host);
      health.set("", ServingStatus.SERVING);
      // A status a feature already set (e.g. chat while its broker is down) is left as it is.
      for (const s of registry.services()) if (health.get(s.typeName) === undefined) health.set(s.typeName, ServingStatus.SERVING);
      logger.info({ host: address.address, port: address.port, tls: !!options.tls, services: registry.services().map((s) => s.typeName) }, "listening");
      return address;
    },
    close() {
      closing ??= (async () => {
        const { shutdownTimeoutMs, shutdownDelayMs } = options.limits;
        logger.info({ graceMs: shutdownTimeoutMs, delayMs: shutdownDelayMs }, "shutting down");
        health.setAll(ServingStatus.NOT_SERVING);
        // Still serving, but not ready: load balancers that poll /readyz or health stop sending calls.
        if (shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, shutdownDelayMs));
        // Calls still running when the grace period ends are ended with UNAVAILABLE (every protocol
        // sends it as its status), then their connections are closed.
        const reason = new ConnectError("the server is shutting down", Code.Unavailable);
        const grace = listener.close(shutdownTimeoutMs, () => shutdown.abort(reason));
        await Promise.all(features.map((f) => f.close?.()));
        await grace;
        shutdown.abort(reason);
        logger.info("stopped");
      })();
      return closing;
    },
  };
}
