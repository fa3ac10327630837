// A small real WebSocket client for the bridge tests: speaks both subprotocols with the `ws` package
// and collects the server's frames by stream id.
import { after } from "node:test";
import { create, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import WebSocket, { type ClientOptions } from "ws";
import { FrameSchema } from "../../src/gen/oneport/ws/v1/frame_pb.js";

/** A server frame in JSON shape, whichever subprotocol carried it (binary messages stay bytes). */
export interface Got {
  id?: string;
  headers?: Record<string, string>;
  message?: unknown;
  end?: boolean;
  status?: { code: string; message?: string; details?: unknown[] };
  trailers?: Record<string, string>;
  example?: { id: string; method: string; message: unknown };
}

/** A frame to send, in JSON shape; for the binary subprotocol `message` is encoded with `schema`. */
export interface Send {
  id?: string;
  method?: string;
  headers?: Record<string, string>;
  message?: unknown;
  end?: boolean;
  cancel?: boolean;
  timeout_ms?: number;
}

/** An open test connection. */
export class WsClient {
  readonly frames: Got[] = [];
  private waiters: Array<() => void> = [];
  closed?: { code: number; reason: string };

  constructor(
    readonly ws: WebSocket,
    readonly format: "json" | "proto",
  ) {
    ws.on("message", (data: Buffer, isBinary) => {
      this.frames.push(isBinary ? fromProto(data) : (JSON.parse(data.toString()) as Got));
      this.wake();
    });
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** Sends a frame; in binary mode `input` encodes `message` (a plain init object). */
  send(f: Send, input?: DescMessage): void {
    if (this.format === "json") return this.ws.send(JSON.stringify(f));
    const message = f.message === undefined || !input ? (f.message as Uint8Array | undefined) : toBinary(input, create(input, f.message as never));
    const { timeout_ms, ...rest } = f;
    this.ws.send(toBinary(FrameSchema, create(FrameSchema, { ...rest, message, timeoutMs: timeout_ms })));
  }

  /** Sends raw text or bytes. */
  raw(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** Waits until `pred` holds over the frames received so far (or the connection closed). */
  async until(pred: (frames: Got[]) => boolean): Promise<void> {
    while (!pred(this.frames)) {
      if (this.closed) throw new Error(`connection closed (${this.closed.code} ${this.closed.reason}) before the expected frames arrived; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Waits for the final frame of stream `id` and returns all its frames. */
  async stream(id: string): Promise<Got[]> {
    await this.until((fs) => fs.some((f) => f.id === id && f.end));
    return this.frames.filter((f) => f.id === id);
  }

  /** Waits for the next frame without an id (connection-level error) after `after` such frames. */
  async idless(count = 1): Promise<Got[]> {
    await this.until((fs) => fs.filter((f) => f.id === undefined || f.id === "").length >= count);
    return this.frames.filter((f) => f.id === undefined || f.id === "");
  }

  /** Waits for the close event. */
  async closedWith(): Promise<{ code: number; reason: string }> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
    return this.closed;
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }
}

function fromProto(data: Buffer): Got {
  const f = fromBinary(FrameSchema, data);
  const g: Got = {};
  if (f.id) g.id = f.id;
  if (Object.keys(f.headers).length) g.headers = f.headers;
  if (f.message !== undefined) g.message = f.message;
  if (f.end) g.end = true;
  if (f.status) g.status = { code: f.status.code, message: f.status.message || undefined, details: f.status.details };
  if (Object.keys(f.trailers).length) g.trailers = f.trailers;
  if (f.example) g.example = { id: f.example.id, method: f.example.method, message: f.example.message };
  return g;
}

/** Opens a connection to `url` (http:// or https://, "/ws" appended); closed after the test file. */
export async function connect(url: string, opts: { format?: "json" | "proto"; path?: string; options?: ClientOptions } = {}): Promise<WsClient> {
  const format = opts.format ?? "json";
  const protocols = format === "proto" ? ["oneport.proto.v1"] : opts.format === "json" ? ["oneport.json.v1"] : [];
  const ws = new WebSocket(url.replace(/^http/, "ws") + (opts.path ?? "/ws"), protocols, opts.options);
  const client = new WsClient(ws, format);
  after(() => client.close());
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return client;
}

/** Attempts an upgrade and returns the HTTP status and body of a refusal (or 101). */
export function upgradeStatus(url: string, opts: { protocols?: string[]; options?: ClientOptions } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, "ws") + "/ws", opts.protocols ?? [], opts.options);
    ws.once("open", () => {
      ws.close();
      resolve({ status: 101, body: "" });
    });
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once("error", (e) => {
      if (!e.message.startsWith("Unexpected server response")) reject(e);
    });
  });
}
