import { promisify } from "node:util";
import * as zlib from "node:zlib";
import { Code } from "@connectrpc/connect";
import type { NodeRequest } from "../http/types.js";
import { RestError } from "./errors.js";

type Decoder = (b: Uint8Array, o: zlib.ZlibOptions & zlib.BrotliOptions) => Promise<Buffer>;

/** The content codings a request body may come in (RFC 9110 §8.4.1), by token. */
const decoders: Record<string, Decoder> = {
  gzip: promisify(zlib.gunzip),
  "x-gzip": promisify(zlib.gunzip),
  deflate: promisify(zlib.inflate),
  br: promisify(zlib.brotliDecompress),
};

// What a 415 names as accepted (Accept-Encoding, RFC 9110 §12.5.3); x-gzip is gzip's old alias.
const ACCEPTED = "gzip, deflate, br";

const unsupported = (message: string) => new RestError(message, Code.InvalidArgument, 415, { "accept-encoding": ACCEPTED });

const tooLarge = (max: number) => new RestError(`request body is larger than the limit of ${max} bytes`, Code.ResourceExhausted, 413);

/**
 * Reads a request body up to `max` bytes, then undoes its Content-Encoding (gzip, deflate, br) with
 * the same limit on the decoded size; larger bodies are refused with 413, an unknown coding with 415.
 */
export async function readBody(req: NodeRequest, max: number): Promise<Uint8Array> {
  const coding = req.headers["content-encoding"];
  // Checked before reading: a coding we cannot undo is refused without taking the body.
  const codings = coding === undefined ? [] : contentCodings(coding);
  let body = await readRaw(req, max);
  // Applied in the order listed, so undone from the last.
  for (let i = codings.length - 1; i >= 0; i--) {
    try {
      body = await decoders[codings[i]](body, { maxOutputLength: max });
    } catch (e) {
      if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw tooLarge(max);
      throw new RestError(`the request body is not valid ${codings[i]} data (Content-Encoding: ${codings[i]})`, Code.InvalidArgument);
    }
  }
  return body;
}

function contentCodings(header: string): string[] {
  const out: string[] = [];
  for (const raw of header.split(",")) {
    const c = raw.trim().toLowerCase();
    if (c === "" || c === "identity") continue;
    if (out.length === 2) throw unsupported("more than two Content-Encodings on one request body");
    if (!(c in decoders)) throw unsupported(`Content-Encoding "${header.slice(0, 64)}" is not supported: send the body uncompressed or as ${ACCEPTED}`);
    out.push(c);
  }
  return out;
}

/** Reads a request body up to `max` bytes; larger bodies are refused with 413 before or while reading. */
function readRaw(req: NodeRequest, max: number): Promise<Uint8Array> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max) return Promise.reject(tooLarge(max));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        cleanup();
        req.resume(); // drain the rest so the connection can be reused
        reject(tooLarge(max));
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    };
    const onError = () => {
      cleanup();
      reject(new RestError("the request body could not be read", Code.Canceled));
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}
