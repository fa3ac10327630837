// One chat client per protocol, all with the same small interface, so that every scenario of the
// cross-protocol tests is a loop over this table. Each adapter uses a real client of its protocol.
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { WebSocket } from "ws";
import { EventSource } from "eventsource";
import { createGrpcJsClient } from "../../src/client/grpc-js.js";
import { ChatMessageSchema, ChatService, type ChatMessage, type SendResponse, type SubscribeResponse } from "../../src/gen/chat/v1/chat_pb.js";

/** A live subscription: what arrived so far, and how it ended (if it did). */
export class Received {
  readonly messages: ChatMessage[] = [];
  /** Set when the stream ended with an error: its code. */
  error?: Code;
  ended = false;
  private waiters: Array<() => void> = [];

  /** Records a message (adapters call this). */
  push(m: ChatMessage): void {
    this.messages.push(m);
    this.wake();
  }

  /** Records the end of the stream (adapters call this). */
  end(code?: Code): void {
    if (this.ended) return;
    this.ended = true;
    this.error = code;
    this.wake();
  }

  /** Resolves once `n` messages arrived; rejects if the stream ends before. */
  async until(n: number): Promise<ChatMessage[]> {
    while (this.messages.length < n) {
      if (this.ended) throw new Error(`stream ended after ${this.messages.length} of ${n} messages (code ${this.error === undefined ? "ok" : Code[this.error]})`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
    return this.messages;
  }

  /** Resolves when the stream ended. */
  async done(): Promise<Code | undefined> {
    while (!this.ended) await new Promise<void>((r) => this.waiters.push(r));
    return this.error;
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }
}

/** A chat client of one protocol, authenticated with one token (or none). */
export interface ChatClient {
  /** Sends a message; rejects with a ConnectError carrying the protocol's status code. */
  send(room: string, text: string): Promise<ChatMessage>;
  /** Starts a subscription; the caller waits for the server side to be registered. */
  subscribe(room: string): { received: Received; cancel(): void };
  close(): void;
}

/** Builds a client for the server at baseUrl ("http://127.0.0.1:PORT") with a token (undefined: no header). */
export type ChatClientFactory = (baseUrl: string, token: string | undefined, authorization?: string) => ChatClient;

const authHeader = (token: string | undefined, authorization?: string): Record<string, string> =>
  authorization !== undefined ? { authorization } : token === undefined ? {} : { authorization: `Bearer ${token}` };

/** @grpc/grpc-js over HTTP/2, with the generated descriptors. */
export const grpcJs: ChatClientFactory = (baseUrl, token, authorization) => {
  const client = createGrpcJsClient(ChatService, new URL(baseUrl).host);
  const md = () => {
    const m = new grpc.Metadata();
    for (const [k, v] of Object.entries(authHeader(token, authorization))) m.set(k, v);
    return m;
  };
  return {
    send: (room, text) =>
      new Promise((resolve, reject) => {
        client.send({ room, text }, md(), (err: grpc.ServiceError | null, res: SendResponse) => {
          if (err) reject(new ConnectError(err.details, err.code as number as Code));
          else resolve(res.message as ChatMessage);
        });
      }),
    subscribe(room) {
      const received = new Received();
      const call = client.subscribe({ room }, md()) as grpc.ClientReadableStream<SubscribeResponse>;
      call.on("data", (r: SubscribeResponse) => received.push(r.message as ChatMessage));
      call.on("error", (e: grpc.ServiceError) => received.end(e.code as number as Code));
      call.on("end", () => received.end());
      return { received, cancel: () => call.cancel() };
    },
    close: () => client.close(),
  };
};

/** A protobuf-es client over any Connect transport (Connect, gRPC-Web). */
function connectClient(transport: Transport, headers: Record<string, string>): ChatClient {
  const client = createClient(ChatService, transport);
  const aborts = new Set<AbortController>();
  return {
    async send(room, text) {
      const res = await client.send({ room, text }, { headers });
      return res.message as ChatMessage;
    },
    subscribe(room) {
      const received = new Received();
      const ac = new AbortController();
      aborts.add(ac);
      void (async () => {
        try {
          for await (const r of client.subscribe({ room }, { headers, signal: ac.signal })) received.push(r.message as ChatMessage);
          received.end();
        } catch (e) {
          received.end(ConnectError.from(e).code);
        }
      })();
      return { received, cancel: () => ac.abort() };
    },
    close: () => aborts.forEach((a) => a.abort()),
  };
}

/** Connect protocol, JSON, HTTP/1.1 (connect-node transport). */
export const connectJson: ChatClientFactory = (baseUrl, token, authorization) =>
  connectClient(createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }), authHeader(token, authorization));

/** gRPC-Web, binary, HTTP/1.1 (connect-node transport). */
export const grpcWeb: ChatClientFactory = (baseUrl, token, authorization) =>
  connectClient(createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }), authHeader(token, authorization));

/** A status frame's code name ("invalid_argument") as a Code. */
const codeFromName = (name: string): Code => Code[name.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase()) as keyof typeof Code] ?? Code.Unknown;

interface WsFrame {
  id?: string;
  message?: { message?: JsonValue };
  end?: boolean;
  status?: { code: string; message?: string };
}

/** The WebSocket bridge at /ws with the `ws` package, JSON frames; the token goes in the first frame's headers. */
export const webSocket: ChatClientFactory = (baseUrl, token, authorization) => {
  const headers = authHeader(token, authorization);
  const socket = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/ws`, "oneport.json.v1");
  const opened = new Promise<void>((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  const streams = new Map<string, (f: WsFrame) => void>();
  socket.on("message", (data) => {
    const f = JSON.parse(String(data)) as WsFrame;
    if (f.id !== undefined) streams.get(f.id)?.(f);
  });
  socket.on("close", () => streams.forEach((on) => on({ end: true, status: { code: "unavailable", message: "socket closed" } })));
  let next = 0;
  const open = (method: string, message: unknown, on: (f: WsFrame) => void) => {
    const id = String(++next);
    streams.set(id, (f) => {
      if (f.end) streams.delete(id);
      on(f);
    });
    void opened.then(() => socket.send(JSON.stringify({ id, method: `chat.v1.ChatService/${method}`, headers, message })));
    return id;
  };
  const toMessage = (json: JsonValue | undefined) => fromJson(ChatMessageSchema, json ?? {});
  return {
    send: (room, text) =>
      new Promise((resolve, reject) => {
        open("Send", { room, text }, (f) => {
          if (f.message) resolve(toMessage(f.message.message));
          if (f.end && f.status && f.status.code !== "ok") reject(new ConnectError(f.status.message ?? "", codeFromName(f.status.code)));
        });
      }),
    subscribe(room) {
      const received = new Received();
      const id = open("Subscribe", { room }, (f) => {
        if (f.message) received.push(toMessage(f.message.message));
        if (f.end) received.end(f.status && f.status.code !== "ok" ? codeFromName(f.status.code) : undefined);
      });
      return { received, cancel: () => void opened.then(() => socket.send(JSON.stringify({ id, cancel: true }))) };
    },
    close: () => socket.close(),
  };
};

/** The Code for an HTTP status of a REST error that carries no google.rpc.Status (e.g. seen by EventSource). */
const codeFromHttp = (status: number | undefined): Code =>
  ({ 400: Code.InvalidArgument, 401: Code.Unauthenticated, 403: Code.PermissionDenied, 404: Code.NotFound, 429: Code.ResourceExhausted, 503: Code.Unavailable })[status ?? 0] ?? Code.Unknown;

/** REST transcoding: POST /v1/rooms/{room}/messages with fetch, GET /v1/rooms/{room}/events as SSE with `eventsource`. */
export const rest: ChatClientFactory = (baseUrl, token, authorization) => {
  const headers = authHeader(token, authorization);
  const sources = new Set<EventSource>();
  return {
    async send(room, text) {
      const res = await fetch(`${baseUrl}/v1/rooms/${encodeURIComponent(room)}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ text }),
      });
      const body = (await res.json()) as { message?: JsonValue; code?: number };
      // Errors are google.rpc.Status JSON: {code, message, details}, with the gRPC code number.
      if (!res.ok) throw new ConnectError(String((body as { message?: string }).message ?? ""), (body.code ?? Code.Unknown) as Code);
      return toChatMessage(body.message);
    },
    subscribe(room) {
      const received = new Received();
      const es = new EventSource(`${baseUrl}/v1/rooms/${encodeURIComponent(room)}/events`, {
        fetch: (url, init) => fetch(url, { ...init, headers: { ...init?.headers, ...headers } }),
      });
      sources.add(es);
      const stop = (code?: Code) => {
        es.close(); // EventSource would reconnect on its own otherwise
        sources.delete(es);
        received.end(code);
      };
      es.onmessage = (e) => received.push(toChatMessage((JSON.parse(e.data) as { message?: JsonValue }).message));
      es.addEventListener("end", () => stop());
      // Two kinds of "error": the server's `event: error` (data: google.rpc.Status) and EventSource's own (HTTP status).
      es.addEventListener("error", (e) => {
        const data = (e as MessageEvent).data as string | undefined;
        if (data !== undefined) stop((JSON.parse(data) as { code: number }).code as Code);
        else if (es.readyState === EventSource.CLOSED) stop(codeFromHttp((e as { code?: number }).code));
      });
      return { received, cancel: () => stop(Code.Canceled) };
    },
    close: () => sources.forEach((es) => es.close()),
  };
};

const toChatMessage = (json: JsonValue | undefined) => fromJson(ChatMessageSchema, json ?? {});
