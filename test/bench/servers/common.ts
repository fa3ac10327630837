import type { AddressInfo } from "node:net";
import type { Server } from "node:net";

/** The handler every bench server runs: the example service's SayHello logic. */
export { greet } from "../../../src/services/example.js";

/** Prints the bound port for the bench driver (one line "PORT n") once the server listens. */
export function announce(server: Server): void {
  server.listen(0, "127.0.0.1", () => console.log(`PORT ${(server.address() as AddressInfo).port}`));
  process.on("SIGTERM", () => process.exit(0));
}
