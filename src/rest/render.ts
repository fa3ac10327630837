import { create, toJson, toJsonString, type DescField, type DescMessage, type Message, type Registry as TypeRegistry } from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { Code, ConnectError } from "@connectrpc/connect";
import { httpStatusOf, isRestError, statusJson } from "./errors.js";
import { isHttpBody } from "./request.js";
import { jsonWriteOptions } from "../core/json-options.js";

/** A rendered response body: its bytes and content type. */
export interface Rendered {
  body: string | Uint8Array;
  contentType: string;
}

/**
 * Renders a response message: proto3 JSON, or only the `response_body` field, or the raw bytes of
 * a google.api.HttpBody (the whole response or the selected field).
 */
export function renderMessage(desc: DescMessage, msg: Message, field: DescField | undefined, types: TypeRegistry): Rendered {
  if (!field) {
    if (isHttpBody(desc)) return rawBody(msg);
    return { body: toJsonString(desc, msg, jsonWriteOptions(desc, types)), contentType: "application/json" };
  }
  const r = reflect(desc, msg);
  if (field.fieldKind === "message") {
    const sub = r.isSet(field) ? (r.get(field) as ReflectMessage).message : create(field.message);
    if (isHttpBody(field.message)) return rawBody(sub);
    return { body: JSON.stringify(toJson(field.message, sub, { registry: types })), contentType: "application/json" };
  }
  // A scalar, enum, list or map field: its JSON value, zero values included (the client asked for it).
  const only = create(desc);
  if (r.isSet(field)) reflect(desc, only).set(field, r.get(field));
  const json = toJson(desc, only, { registry: types, alwaysEmitImplicit: true }) as Record<string, unknown>;
  return { body: JSON.stringify(json[field.jsonName] ?? null), contentType: "application/json" };
}

function rawBody(msg: Message): Rendered {
  const b = msg as unknown as { contentType: string; data: Uint8Array };
  return { body: b.data, contentType: b.contentType || "application/octet-stream" };
}

/** An error as status, headers and a google.rpc.Status JSON body. */
export function renderError(err: unknown, types: TypeRegistry): { status: number; headers: Record<string, string>; body: string } {
  // Errors from the pipeline are already sanitized ConnectErrors; anything else is a transcoder bug.
  const ce = err instanceof ConnectError ? err : new ConnectError("internal error", Code.Internal);
  const headers: Record<string, string> = { "content-type": "application/json" };
  ce.metadata.forEach((v, k) => {
    if (k !== "content-type" && k !== "content-length") headers[k] = v;
  });
  if (isRestError(ce)) Object.assign(headers, ce.headers);
  const body = JSON.stringify(statusJson(ce, types));
  headers["content-length"] = String(Buffer.byteLength(body));
  return { status: httpStatusOf(ce), headers, body };
}
