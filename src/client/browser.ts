// Entry of the prebuilt browser bundle (src/client/dist/oneport-browser.js, `npm run build:client`):
// the WebSocket transport, Connect's client factory and error types, and this server's own
// services, as one plain ES module a page can import without a build step (the playground does).
export { Code, ConnectError, createClient } from "@connectrpc/connect";
export { createWebSocketTransport } from "./ws-transport.js";
export { ExampleService } from "../gen/example/example_pb.js";
export { ChatService } from "../gen/chat/v1/chat_pb.js";
