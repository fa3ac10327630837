/**
 * The server under test for `connectconformance --mode server`: reads one ServerCompatRequest
 * (size-prefixed, stdin), starts oneport with createServer on 127.0.0.1:0 with the runner's TLS
 * credentials and message limit, writes one ServerCompatResponse (size-prefixed, stdout), and
 * shuts down gracefully on SIGTERM. Every protocol is served on the one port whatever was asked.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { pino } from "pino";
import { createServer, type Limits, type TlsOptions } from "../../../src/index.js";
import { ServerCompatRequestSchema, ServerCompatResponseSchema } from "../gen/connectrpc/conformance/v1/server_compat_pb.js";
import { frame, readFrame } from "../framing.js";
import { conformanceService } from "./service.js";

async function main(): Promise<void> {
  const req = fromBinary(ServerCompatRequestSchema, await readFrame(process.stdin));
  let tls: TlsOptions | undefined;
  if (req.useTls) {
    if (!req.serverCreds) throw new Error("use_tls is set but the runner sent no server_creds");
    tls = { cert: Buffer.from(req.serverCreds.cert), key: Buffer.from(req.serverCreds.key) };
    if (req.clientTlsCert.length > 0) throw new Error("client certificates were requested, but the config declares them unsupported");
  }
  // maxTimeoutMs 0: no server-imposed default deadline, so the handler sees (and echoes) exactly the
  // timeout the client sent; the runner checks that echo.
  // Keep-alive idle time stays at its default (120 s): the runner's HTTP/1.1 client must never have
  // to wait for it (an answer sent before the request body ended used to stall the connection).
  const limits: Partial<Limits> = { shutdownTimeoutMs: 1_000, maxTimeoutMs: 0, unaryTimeoutMs: 0 };
  if (req.messageReceiveLimit > 0) limits.maxMessageBytes = req.messageReceiveLimit;

  // Logs go to stderr (stdout carries the runner protocol); CONFORMANCE_LOG=debug shows every call.
  const logger = pino({ level: process.env.CONFORMANCE_LOG ?? "warn", base: { name: "conformance-server" } }, pino.destination(2));
  const server = createServer({ host: "127.0.0.1", port: 0, tls, limits, logger, services: [conformanceService()] });
  const addr = await server.listen();
  const res = create(ServerCompatResponseSchema, { host: addr.address, port: addr.port, pemCert: tls ? req.serverCreds!.cert : undefined });
  process.stdout.write(frame(toBinary(ServerCompatResponseSchema, res)));

  const stop = () => void server.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`conformance server failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
