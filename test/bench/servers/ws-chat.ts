// oneport with the example and chat services as main.ts serves them, limits raised for the fan-out
// bench (10k connections). Reads "MEM" and "PROF" commands on stdin (servers/common.ts serveCommands).
import { authInterceptor, parseTokens } from "../../../src/core/auth.js";
import { ChatService } from "../../../src/gen/chat/v1/chat_pb.js";
import { MemoryBroker } from "../../../src/pubsub/memory.js";
import { createServer } from "../../../src/server.js";
import { createChat } from "../../../src/services/chat.js";
import { exampleService } from "../../../src/services/example.js";
import { serveCommands } from "./common.js";

const broker = new MemoryBroker();
const chat = createChat(broker);
const server = createServer({
  port: 0,
  host: "127.0.0.1",
  services: [exampleService(), chat.service],
  interceptors: [authInterceptor({ tokens: parseTokens("bench:bench-token"), services: [ChatService.typeName] })],
  features: [chat.feature],
  limits: { maxConnections: 30_000 },
  ws: { maxConnections: 30_000 },
});
const addr = await server.listen();
console.log(`PORT ${addr.port}`);
serveCommands();
process.on("SIGTERM", () => void server.close().then(() => broker.close()).then(() => process.exit(0)));
