import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import type { Server } from "node:net";

/** The handler every bench server runs: the example service's SayHello logic. */
export { greet } from "../../../src/services/example.js";

/** Prints the bound port for the bench driver (one line "PORT n") once the server listens. */
export function announce(server: Server): void {
  server.listen(0, "127.0.0.1", () => console.log(`PORT ${(server.address() as AddressInfo).port}`));
  process.on("SIGTERM", () => process.exit(0));
}

let profiling: { session: Session; file: string } | undefined;

/**
 * Commands on stdin for the fan-out bench: "MEM" prints "MEM <rss> <heapUsed>" after a GC (run node
 * with --expose-gc); "PROF <file>" starts a CPU profile and "PROF" writes it to that file, each
 * answered "PROF done", so that only the measured deliveries are profiled (not the upgrades and warm-up).
 */
export function serveCommands(): void {
  createInterface({ input: process.stdin }).on("line", async (l) => {
    if (l.trim() === "MEM") {
      (globalThis as { gc?: () => void }).gc?.();
      const m = process.memoryUsage();
      console.log(`MEM ${m.rss} ${m.heapUsed}`);
    } else if (l.startsWith("PROF")) {
      const file = l.slice(4).trim();
      if (file !== "" && !profiling) {
        const session = new Session();
        session.connect();
        await session.post("Profiler.enable");
        await session.post("Profiler.start");
        profiling = { session, file };
      } else if (file === "" && profiling) {
        const { profile } = await profiling.session.post("Profiler.stop");
        writeFileSync(profiling.file, JSON.stringify(profile));
        profiling.session.disconnect();
        profiling = undefined;
      }
      console.log("PROF done");
    }
  });
}
