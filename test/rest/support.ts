// Helpers for the REST tests: raw HTTP requests (no URL normalization), JSON and Status checks.
import assert from "node:assert/strict";
import { request } from "node:http";

/** An HTTP answer with its body as text. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  bytes: Buffer;
}

/** Sends a request with the path exactly as given (fetch would normalize "..", "%2e" and friends). */
export function raw(url: string, method: string, path: string, opts: { headers?: Record<string, string>; body?: string | Uint8Array } = {}): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: bytes.toString("utf8"), bytes });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** Asserts a google.rpc.Status body with the given HTTP status and gRPC code; returns it. */
export function assertStatus(a: Answer, http: number, code: number, message?: RegExp): { code: number; message: string; details: unknown[] } {
  assert.equal(a.status, http, `HTTP status of ${a.text}`);
  assert.match(String(a.headers["content-type"]), /^application\/json/);
  const body = JSON.parse(a.text) as { code: number; message: string; details: unknown[] };
  assert.equal(body.code, code, `code in ${a.text}`);
  assert.equal(typeof body.message, "string");
  assert.ok(Array.isArray(body.details));
  if (message) assert.match(body.message, message);
  return body;
}
