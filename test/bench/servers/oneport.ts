// oneport's unified port (default options, no logger: like the bare servers, nothing is logged).
// BENCH_METRICS=0 turns the default-on Prometheus metrics off, to measure what they cost per call.
import { createServer } from "../../../src/server.js";
import { exampleService } from "../../../src/services/example.js";

const metrics = process.env.BENCH_METRICS === "0" ? { metrics: { enabled: false } } : {};
const server = createServer({ port: 0, host: "127.0.0.1", services: [exampleService()], ...metrics });
const addr = await server.listen();
console.log(`PORT ${addr.port}`);
process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
