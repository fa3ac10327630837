// The oneport CLI: the example API (and every built-in feature) on one port.
import { parseCli, usage } from "./cli-config.js";
import { isClusterWorker, onPrimaryShutdown, reportListening, runPrimary, workerId } from "./cluster.js";
import { defaultLimits } from "./config.js";
import { DEV_CHAT_TOKENS } from "./auth/static.js";
import { playgroundFeature } from "./playground/feature.js";
import { createChat } from "./services/chat.js";
import { brokerKind, createBroker } from "./pubsub/select.js";
import { instrumentBroker } from "./observability/broker.js";
import { createLogger } from "./log.js";
import { createServer } from "./server.js";
import { exampleService } from "./services/example.js";

let cfg;
try {
  cfg = parseCli(process.argv.slice(2), process.env);
} catch (e) {
  process.stderr.write(`oneport: ${(e as Error).message}\n`);
  process.exit(2);
}
if (cfg.help) {
  process.stdout.write(usage);
  process.exit(0);
}

const rootLogger = createLogger(cfg.logLevel);
if (cfg.workers > 1 && !isClusterWorker()) {
  // The primary only forks, supervises and relays; the workers below serve the port.
  await runPrimary({ workers: cfg.workers, logger: rootLogger, relay: !cfg.redisUrl, shutdownTimeoutMs: (cfg.server.limits?.shutdownDelayMs ?? defaultLimits.shutdownDelayMs) + (cfg.server.limits?.shutdownTimeoutMs ?? defaultLimits.shutdownTimeoutMs) });
}
const logger = isClusterWorker() ? rootLogger.child({ worker: workerId(), pid: process.pid }) : rootLogger;
// Redis with REDIS_URL, else the primary's relay in a worker, else memory: services see only Broker.
const broker = instrumentBroker(await createBroker({ redisUrl: cfg.redisUrl, logger }), brokerKind({ redisUrl: cfg.redisUrl })); // counted for /metrics
const chat = createChat(broker);
let server: ReturnType<typeof createServer>;
try {
  server = createServer({
    ...cfg.server,
    logger,
    metrics: { ...cfg.server.metrics, brokers: [broker] },
    services: [exampleService(), chat.service],
    // The playground offers tokens to visitors only when they are the public dev tokens anyway.
    features: [chat.feature, playgroundFeature({ devTokens: cfg.devChatTokens ? cfg.chatTokens : undefined })],
  });
} catch (e) {
  // An option the CLI let through but the server refuses (e.g. limits that contradict each other):
  // the message names it; a stack trace would not help.
  process.stderr.write(`oneport: ${(e as Error).message}\n`);
  await broker.close();
  process.exit(2);
}
if (cfg.devChatTokens) logger.warn({ tokens: DEV_CHAT_TOKENS }, "chat uses the well-known dev tokens: set CHAT_TOKENS (or --chat-tokens) before exposing this server");
// Workers share the port, so a scrape reaches one of them: the label keeps their series apart.
if (isClusterWorker()) server.context.metrics?.registry.setDefaultLabels({ worker: String(workerId()) });
try {
  const addr = await server.listen();
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  logger.info({ url: `${server.scheme}://${host}:${addr.port}` }, "oneport is ready");
  reportListening(addr.port);
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  const hints: Record<string, string> = {
    EADDRINUSE: " (the port is taken: pick another with --port or PORT)",
    EACCES: " (not allowed to bind this port: use one above 1023)",
    ENOTFOUND: " (no such host: set --host or HOST to an address of this machine, e.g. 127.0.0.1 or 0.0.0.0)",
    EADDRNOTAVAIL: " (not an address of this machine: set --host or HOST to one, e.g. 127.0.0.1 or 0.0.0.0)",
  };
  const hint = hints[err.code ?? ""] ?? "";
  logger.fatal({ code: err.code }, `cannot listen: ${err.message}${hint}`);
  process.exit(1);
}

let stopping = false;
const stop = (reason: string, signal?: NodeJS.Signals) => {
  if (stopping) {
    // Only a second signal forces the exit; the primary's drain request after Ctrl-C is no news.
    if (!signal) return;
    logger.warn({ signal }, "second signal: exiting now");
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal, reason }, signal ? "signal received" : "shutdown requested");
  // The server first (its features end the chat streams), then the broker's connections.
  server.close().then(
    () => broker.close(),
  ).then(
    () => process.exit(0),
    (err) => {
      logger.error({ err }, "shutdown failed");
      process.exit(1);
    },
  );
};
for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => stop(sig, sig));
onPrimaryShutdown((reason) => stop(reason));
