// Entry of the prebuilt browser bundle (src/client/dist/oneport-browser.js, `npm run build:client`):
// the WebSocket transport, Connect's client factory and error types, this server's own services,
// and toJson() to show messages as plain JSON, as one ES module a page imports without a build step.
export { toJson } from "@bufbuild/protobuf";
export { Code, ConnectError, createClient } from "@connectrpc/connect";
export { createWebSocketTransport } from "./ws-transport.js";
export { ExampleService } from "../gen/example/example_pb.js";
export { ChatMessageSchema, ChatService } from "../gen/chat/v1/chat_pb.js";
