// An HTTP/1.1 client for the early-answer tests: one keep-alive socket at a time, so a stalled
// connection shows as a request that never gets its answer, and reuse is visible per request.
import * as http from "node:http";
import * as https from "node:https";
import type { Socket } from "node:net";

/** A request as sent: the body whole (Content-Length), in chunks (chunked), or in slow pieces. */
export interface Req {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** Sent with Content-Length unless `chunked`. */
  body?: Buffer;
  /** Send the body with Transfer-Encoding: chunked. */
  chunked?: boolean;
  /** Send the body in this many pieces, `pauseMs` apart (still uploading when an early answer goes out). */
  pieces?: number;
  pauseMs?: number;
}

/** What came back. */
export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** A keep-alive agent with a single socket (plain or TLS), and the connections it opened. */
export class OneSocketClient {
  readonly agent: http.Agent;
  readonly sockets = new Set<Socket>();
  constructor(ca?: Buffer) {
    const opts = { keepAlive: true, maxSockets: 1 };
    this.agent = ca ? new https.Agent({ ...opts, ca }) : new http.Agent(opts);
    // Every connection the agent opens, for any client that uses it (ours or connect-node's).
    const agent = this.agent as http.Agent & { createConnection: (...args: unknown[]) => Socket };
    const create = agent.createConnection;
    agent.createConnection = (...args: unknown[]) => {
      const socket = create.apply(agent, args);
      this.sockets.add(socket);
      return socket;
    };
  }
  /** TCP connections opened so far. */
  get connections(): number {
    return this.sockets.size;
  }
  close(): void {
    this.agent.destroy();
  }
}

/**
 * Sends one request. Resolves when the whole response arrived, even if the upload is still going
 * (a server that answered early may close the connection under the rest of it: that error after
 * the answer is the client's to ignore, as browsers and Go do).
 */
export function send(base: string, client: OneSocketClient, r: Req): Promise<Res> {
  const u = new URL(base);
  const request = u.protocol === "https:" ? https.request : http.request;
  const headers: Record<string, string | number> = { ...r.headers };
  if (r.body !== undefined && !r.chunked) headers["content-length"] = r.body.length;
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request({ host: u.hostname, port: u.port, method: r.method ?? "POST", path: r.path, headers, agent: client.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (e) => answered || reject(e));
      res.on("end", () => {
        answered = true;
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString("utf8") });
      });
    });
    req.on("error", (e) => answered || reject(e));
    void upload(req, r);
  });
}

// The headers go out alone first, as Go's client sends them: the server starts the call before any
// body byte arrived (with the headers and body in one packet, connect-node's early errors did not stall).
async function upload(req: http.ClientRequest, r: Req): Promise<void> {
  const body = r.body ?? Buffer.alloc(0);
  const pieces = r.pieces ?? 1;
  const size = Math.ceil(body.length / pieces);
  req.flushHeaders();
  await new Promise((done) => setTimeout(done, 5));
  for (let i = 0; i < pieces - 1 && !req.destroyed; i++) {
    req.write(body.subarray(i * size, (i + 1) * size));
    await new Promise((done) => setTimeout(done, r.pauseMs ?? 0));
  }
  if (!req.destroyed) req.end(body.subarray((pieces - 1) * size));
}

/** A gRPC / gRPC-Web / Connect streaming envelope around `data`. */
export function envelope(data: Buffer, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, data]);
}

/** The grpc-status of a gRPC-Web response: from the headers (trailers-only) or the trailer frame. */
export function grpcWebStatus(res: Res): string | undefined {
  const h = res.headers["grpc-status"];
  if (typeof h === "string") return h;
  for (let i = 0; i + 5 <= res.body.length; ) {
    const len = res.body.readUInt32BE(i + 1);
    if (res.body[i] & 0x80) return /grpc-status:\s*(\d+)/i.exec(res.body.subarray(i + 5, i + 5 + len).toString("latin1"))?.[1];
    i += 5 + len;
  }
  return undefined;
}

/** The end-of-stream JSON of a Connect streaming response (its last envelope, flag 0x02). */
export function connectEndStream(res: Res): { error?: { code: string; message?: string } } {
  let end: Buffer | undefined;
  for (let i = 0; i + 5 <= res.body.length; ) {
    const len = res.body.readUInt32BE(i + 1);
    if (res.body[i] & 0x02) end = res.body.subarray(i + 5, i + 5 + len);
    i += 5 + len;
  }
  if (end === undefined) throw new Error(`no end-stream message in ${JSON.stringify(res.text.slice(0, 200))}`);
  return JSON.parse(end.toString("utf8")) as { error?: { code: string; message?: string } };
}
