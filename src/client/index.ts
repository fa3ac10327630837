// oneport/client: a Connect Transport over the oneport WebSocket bridge, for browsers and Node.
export { createWebSocketTransport, type WebSocketTransport } from "./ws-transport.js";
export type { WebSocketConstructor, WebSocketLike, WebSocketTransportOptions } from "./ws-options.js";
export { wsSubprotocols } from "./ws-codec.js";
