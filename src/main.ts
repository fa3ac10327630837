// The oneport CLI: the example API (and every built-in feature) on one port.
import { parseCli, usage } from "./cli-config.js";
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

const logger = createLogger(cfg.logLevel);
const server = createServer({ ...cfg.server, logger, services: [exampleService()] });
try {
  const addr = await server.listen();
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  logger.info({ url: `${server.scheme}://${host}:${addr.port}` }, "oneport is ready");
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  const hint = err.code === "EADDRINUSE" ? " (the port is taken: pick another with --port or PORT)" : err.code === "EACCES" ? " (not allowed to bind this port: use one above 1023)" : "";
  logger.fatal({ code: err.code }, `cannot listen: ${err.message}${hint}`);
  process.exit(1);
}

let stopping = false;
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    if (stopping) {
      logger.warn({ signal: sig }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal: sig }, "signal received");
    server.close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  });
}
