// The bare baseline for the WebSocket bench: `ws` on node:http, answering every message with a fixed
// payload of the given size (the size of oneport's SayHello response frame). No parsing, no routing.
import { createServer } from "node:http";
import { WebSocketServer } from "ws";
import { announce } from "./common.js";

const size = Number(process.argv[2] ?? 128);
const reply = `{"id":"1","message":{"message":"${"x".repeat(Math.max(0, size - 34))}"}}`.slice(0, size);
const server = createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });
wss.on("connection", (ws) => ws.on("message", () => ws.send(reply)));
announce(server);
