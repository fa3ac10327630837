import * as http2 from "node:http2";
import WebSocket from "ws";

/** What an RFC 8441 handshake got: the response status and headers, and the WebSocket if it was 200. */
export interface H2WebSocket {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
  ws?: WebSocket;
  session: http2.ClientHttp2Session;
}

/**
 * Opens a WebSocket as an HTTP/2 extended CONNECT stream (RFC 8441), the way browsers do on an h2
 * connection, and runs `ws` on the stream (websockets/ws#1458). For tests: Node's own clients have
 * no RFC 8441 support.
 */
export async function connectH2WebSocket(url: string, opts: { path?: string; protocol?: string; origin?: string; ca?: Buffer } = {}): Promise<H2WebSocket> {
  const session = http2.connect(url, opts.ca ? { ca: opts.ca } : {});
  session.on("error", () => {});
  // The :protocol pseudo-header may only be sent after the server's SETTINGS allowed it.
  await new Promise<void>((resolve, reject) => {
    session.once("remoteSettings", () => resolve());
    session.once("error", reject);
  });
  if (!session.remoteSettings.enableConnectProtocol) throw new Error("the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL");
  const u = new URL(url);
  const stream = session.request({
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": u.protocol.replace(":", ""),
    ":authority": u.host,
    ":path": opts.path ?? "/ws",
    "sec-websocket-version": "13",
    ...(opts.protocol ? { "sec-websocket-protocol": opts.protocol } : {}),
    ...(opts.origin ? { origin: opts.origin } : {}),
  });
  const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
    stream.once("response", resolve);
    stream.once("error", reject);
  });
  const status = Number(headers[":status"]);
  if (status !== 200) {
    let body = "";
    for await (const chunk of stream) body += String(chunk);
    return { status, headers, body, session };
  }
  // A client-side ws on the stream: ws(null) is a server socket, so unmask-free frames are switched
  // back to the client's masking, as RFC 6455 requires of clients.
  const ws = new WebSocket(null as unknown as string, undefined, {}) as WebSocket & { _isServer: boolean; _protocol: string; setSocket(s: unknown, h: Buffer, o: object): void };
  ws._isServer = false;
  ws._protocol = String(headers["sec-websocket-protocol"] ?? "");
  ws.setSocket(Object.assign(stream, { setNoDelay() {} }), Buffer.alloc(0), { maxPayload: 64 * 1024 * 1024 });
  return { status, headers, body: "", ws, session };
}

/** The next message of `ws` as text. */
export function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once("message", (d) => resolve(String(d)));
    ws.once("close", (code) => reject(new Error(`closed with ${code}`)));
  });
}
