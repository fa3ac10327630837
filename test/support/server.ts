import { after } from "node:test";
import type { ServerOptions } from "../../src/config.js";
import { createServer, type OneportServer } from "../../src/server.js";
import { exampleService } from "../../src/services/example.js";

/** A real server on 127.0.0.1:0 with the example service, closed after the test file. */
export interface TestServer {
  server: OneportServer;
  /** "http://127.0.0.1:PORT" (or https with TLS). */
  url: string;
  port: number;
}

/** Starts a server for a test file; it is closed by an `after` hook. */
export async function startServer(opts: Partial<ServerOptions> = {}): Promise<TestServer> {
  const server = createServer({
    port: 0,
    host: "127.0.0.1",
    services: [exampleService()],
    ...opts,
    limits: { shutdownTimeoutMs: 500, ...opts.limits },
  });
  const addr = await server.listen();
  after(() => server.close());
  return { server, url: `${server.scheme}://127.0.0.1:${addr.port}`, port: addr.port };
}
