import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { HeaderSchema, type Error as ProtoError, type Header } from "../gen/connectrpc/conformance/v1/service_pb.js";

/** Request headers (or query parameters) as the suite's Header list, values grouped by name. */
export function toProtoHeaders(source: Headers | URLSearchParams): Header[] {
  const byName = new Map<string, Header>();
  source.forEach((value, name) => {
    const h = byName.get(name) ?? create(HeaderSchema, { name });
    h.value.push(value);
    byName.set(name, h);
  });
  return [...byName.values()];
}

/** Adds every value of the suite's Header list to a fetch Headers (response headers or trailers). */
export function appendHeaders(target: Headers, headers: readonly Header[] | undefined): void {
  for (const h of headers ?? []) for (const v of h.value) target.append(h.name, v);
}

/**
 * The suite's Error as a ConnectError. Details stay raw (type name + bytes), exactly as the test
 * case packed them, so the framework sends them without needing their schemas.
 */
export function toConnectError(e: ProtoError): ConnectError {
  const code = e.code >= Code.Canceled && e.code <= Code.Unauthenticated ? (e.code as number as Code) : Code.Unknown;
  const details = e.details.map((any) => ({ type: any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1), value: any.value }));
  const err = new ConnectError(e.message ?? "", code);
  err.details.push(...details);
  return err;
}

/** Resolves after `ms`, or rejects early when the call is cancelled or its deadline passes. */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(ConnectError.from(signal.reason, Code.Canceled));
    const onAbort = () => {
      clearTimeout(timer);
      reject(ConnectError.from(signal.reason, Code.Canceled));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
