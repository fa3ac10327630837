// oneport with metrics on or off (argv[2] = "on" | "off"), for test/bench/metrics.bench.ts.
import { createServer } from "../../../src/server.js";
import { exampleService } from "../../../src/services/example.js";

const server = createServer({ port: 0, host: "127.0.0.1", services: [exampleService()], metrics: { enabled: process.argv[2] === "on" } });
const addr = await server.listen();
console.log(`PORT ${addr.port}`);
process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
