// The bare baseline for the fan-out bench: `ws` on node:http, broadcasting in the way ws's README
// shows (one send per client). A text message "pub:<text>" from any client goes to every client as
// a frame shaped and sized like oneport's Subscribe frame; no parsing beyond that, no routing, no RPC.
// Reads "MEM" and "PROF" on stdin like ws-chat.ts.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { WebSocketServer } from "ws";
import { announce, serveCommands } from "./common.js";

const room = process.argv[2] ?? "bench";
const server = createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: true });
wss.on("connection", (ws) =>
  ws.on("message", (data) => {
    const s = data.toString();
    if (!s.startsWith("pub:")) return;
    const message = { id: randomUUID(), room, author: "bench", text: s.slice(4), timestamp: new Date().toISOString() };
    const frame = JSON.stringify({ id: "sub", message: { message } });
    for (const c of wss.clients) c.send(frame);
  }),
);
announce(server);
serveCommands();
