import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { Duplex } from "node:stream";

/** A request from either the HTTP/1.1 or the HTTP/2 compatibility API. */
export type NodeRequest = IncomingMessage | Http2ServerRequest;
/** A response of either the HTTP/1.1 or the HTTP/2 compatibility API. */
export type NodeResponse = ServerResponse | Http2ServerResponse;

/** Handles a request if it is its own and returns true; returns false to pass it on. */
export type HttpHandler = (req: NodeRequest, res: NodeResponse) => boolean | Promise<boolean>;

/** Handles an HTTP/1.1 Upgrade if it is its own and returns true; returns false to pass it on. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

/** Takes a raw HTTP/2 stream before the compatibility layer does (the fast path); true if taken. */
export type StreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => boolean;
