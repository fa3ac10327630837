// oneport's unified port (default options, no logger: like the bare servers, nothing is logged).
import { createServer } from "../../../src/server.js";
import { exampleService } from "../../../src/services/example.js";

const server = createServer({ port: 0, host: "127.0.0.1", services: [exampleService()] });
const addr = await server.listen();
console.log(`PORT ${addr.port}`);
process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
