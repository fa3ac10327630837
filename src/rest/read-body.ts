import { Code } from "@connectrpc/connect";
import type { NodeRequest } from "../http/types.js";
import { RestError } from "./errors.js";

/** Reads a request body up to `max` bytes; larger bodies are refused with 413 before or while reading. */
export function readBody(req: NodeRequest, max: number): Promise<Uint8Array> {
  const tooLarge = () => new RestError(`request body is larger than the limit of ${max} bytes`, Code.ResourceExhausted, 413);
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        cleanup();
        req.resume(); // drain the rest so the connection can be reused
        reject(tooLarge());
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
