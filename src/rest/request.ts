import { create, fromJson, ScalarType, type DescField, type DescMessage, type Message, type Registry as TypeRegistry } from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { Code } from "@connectrpc/connect";
import { RestError } from "./errors.js";
import { extractVariables, type SplitPath } from "./path.js";
import { bindQuery, parseQuery, QueryError } from "./query.js";
import type { RestRoute } from "./routes.js";
import { parseEnum, parseScalar, ValueError } from "./values.js";

/** google.api.HttpBody: raw bytes in and out, with their content type. */
export const HTTP_BODY = "google.api.HttpBody";

/** Whether a message type is google.api.HttpBody. */
export const isHttpBody = (m: DescMessage | undefined): boolean => m?.typeName === HTTP_BODY;

/** The raw request body and its content type, when the route has a body. */
export interface RawBody {
  bytes: Uint8Array;
  contentType: string;
}

/**
 * Builds the request message the way grpc-gateway does: the body first (`*` or one field), then the
 * path variables, then query parameters into every field neither of them bound. Pure: throws RestError.
 */
export function decodeRequest(route: RestRoute, path: SplitPath, query: string, body: RawBody | undefined, types: TypeRegistry): Message {
  const input = route.method.method.input;
  let msg: Message;
  if (route.body === "*" && body) msg = isHttpBody(input) ? httpBody(input, body) : fromJsonBody(input, body, undefined, types);
  else if (route.bodyField && body) {
    const f = route.bodyField;
    if (f.fieldKind === "message" && isHttpBody(f.message)) {
      msg = create(input);
      reflect(input, msg).set(f, reflect(f.message, httpBody(f.message, body)));
    } else msg = fromJsonBody(input, body, f, types);
  } else msg = create(input);

  const vars = extractVariables(route.template, path);
  // The common route shape (GET /v1/hello/{name}): top-level string fields and no query. Those are
  // set as reflect sets them (a plain property), without making the reflection object.
  const r = query === "" && plainStrings(route) ? undefined : reflect(input, msg);
  for (let i = 0; i < vars.length; i++) {
    const { path: fields, name } = route.pathFields[i];
    try {
      if (r === undefined) (msg as unknown as Record<string, string>)[fields[0].localName] = parseScalar(ScalarType.STRING, vars[i][1]) as string;
      else setPath(r, fields, vars[i][1]);
    } catch (e) {
      if (e instanceof ValueError) throw new RestError(`path variable "${name}": ${e.message}`, Code.InvalidArgument);
      throw e;
    }
  }
  if (r === undefined || query === "") return msg;
  try {
    bindQuery(r, parseQuery(query), boundFields(route), route.body === "*");
  } catch (e) {
    if (e instanceof QueryError) throw new RestError(e.message, Code.InvalidArgument);
    throw e;
  }
  return msg;
}

const plain = new WeakMap<RestRoute, boolean>();

// Whether every path variable of a route is a top-level, non-oneof string field; once per route.
function plainStrings(route: RestRoute): boolean {
  let p = plain.get(route);
  if (p === undefined) {
    p = route.pathFields.every(({ path: [f, ...rest] }) => rest.length === 0 && f.fieldKind === "scalar" && f.scalar === ScalarType.STRING && f.oneof === undefined);
    plain.set(route, p);
  }
  return p;
}

const bound = new WeakMap<RestRoute, Set<string>>();

// The fields a route binds from its path and body (query parameters may not set them); once per route.
function boundFields(route: RestRoute): Set<string> {
  let b = bound.get(route);
  if (b === undefined) {
    b = new Set(route.pathFields.map((p) => p.name));
    if (route.bodyField) b.add(route.bodyField.name);
    bound.set(route, b);
  }
  return b;
}

function setPath(r: ReflectMessage, fields: DescField[], value: string): void {
  let cur = r;
  for (let i = 0; i < fields.length - 1; i++) {
    const f = fields[i];
    if (f.fieldKind !== "message") return;
    if (!cur.isSet(f)) cur.set(f, reflect(f.message));
    cur = cur.get(f) as ReflectMessage;
  }
  const leaf = fields[fields.length - 1];
  cur.set(leaf, leaf.fieldKind === "enum" ? parseEnum(leaf.enum, value) : parseScalar(leaf.scalar!, value));
}

function httpBody(desc: DescMessage, body: RawBody): Message {
  return create(desc, { contentType: body.contentType, data: body.bytes } as never);
}

function fromJsonBody(input: DescMessage, body: RawBody, field: DescField | undefined, types: TypeRegistry): Message {
  const ct = body.contentType.split(";")[0].trim().toLowerCase();
  if (body.bytes.length > 0 && ct !== "application/json" && !ct.endsWith("+json")) {
    throw new RestError(`unsupported content type "${ct.slice(0, 100)}": send the body as application/json`, Code.InvalidArgument, 415);
  }
  let json: unknown = {};
  if (body.bytes.length > 0) {
    try {
      json = JSON.parse(Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength).toString("utf8"));
    } catch (e) {
      throw new RestError(`invalid JSON body: ${e instanceof Error ? e.message : String(e)}`, Code.InvalidArgument);
    }
  }
  // Unknown fields are ignored, as Connect and gRPC-Gateway (DiscardUnknown) do: a newer client may
  // send fields this server does not know yet.
  const opts = { registry: types, ignoreUnknownFields: true };
  try {
    if (!field) return fromJson(input, json as never, opts);
    return fromJson(input, { [field.jsonName]: json } as never, opts);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new RestError(`invalid request body${field ? ` for field "${field.name}"` : ""}: ${why}`, Code.InvalidArgument);
  }
}
