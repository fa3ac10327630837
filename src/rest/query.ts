import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { isTextMessage, parseFieldValue, ValueError } from "./values.js";

/** A bad query string or parameter; the message names the parameter. */
export class QueryError extends Error {}

/** Splits a query string into [name, value] pairs (form encoding: "+" is a space); strict percent-decoding. */
export function parseQuery(query: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (query === "") return out;
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? "" : part.slice(eq + 1);
    const name = decode(rawName, rawName);
    out.push([name, decode(rawValue, name)]);
  }
  return out;
}

function decode(s: string, param: string): string {
  const plus = s.includes("+") ? s.replace(/\+/g, " ") : s;
  if (!plus.includes("%")) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    throw new QueryError(`query parameter "${clip(param)}" has invalid percent-encoding`);
  }
}

const fieldCache = new WeakMap<DescMessage, Map<string, DescField>>();

/** A message's field by proto name or JSON name, as grpc-gateway accepts both. */
export function fieldByName(m: DescMessage, name: string): DescField | undefined {
  let byName = fieldCache.get(m);
  if (!byName) {
    byName = new Map();
    for (const f of m.fields) {
      byName.set(f.name, f);
      byName.set(f.jsonName, f);
    }
    fieldCache.set(m, byName);
  }
  return byName.get(name);
}

/**
 * Sets query parameters on a message, skipping none: a parameter for a field that the path or the
 * body binds, an unknown one, a map, or a malformed value is a QueryError naming the parameter.
 * `bound` holds the dotted proto names of fields already bound (a prefix binds everything below it).
 */
export function bindQuery(target: ReflectMessage, params: Array<[string, string]>, bound: ReadonlySet<string>, bodyStar: boolean): void {
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (bodyStar) throw new QueryError(`query parameter "${clip(name)}" is not allowed: the body binds every field of the request`);
    const names = name.split(".");
    let msg = target;
    let field: DescField | undefined;
    const protoPath: string[] = [];
    for (const [i, n] of names.entries()) {
      field = fieldByName(msg.desc, n);
      if (!field) throw new QueryError(`unknown query parameter "${clip(name)}": ${msg.desc.typeName} has no field "${clip(n)}"`);
      protoPath.push(field.name);
      if (bound.has(protoPath.join("."))) throw new QueryError(`query parameter "${clip(name)}" is already bound by the ${bound.has("*") ? "body" : "path or body"}`);
      if (i === names.length - 1) break;
      if (field.fieldKind !== "message" || isTextMessage(field.message)) {
        throw new QueryError(`query parameter "${clip(name)}": field "${n}" is not a message, it has no field "${clip(names[i + 1])}"`);
      }
      if (!msg.isSet(field)) msg.set(field, reflect(field.message));
      msg = msg.get(field) as ReflectMessage;
    }
    const f = field!;
    const key = protoPath.join(".");
    if (f.fieldKind === "map") throw new QueryError(`query parameter "${clip(name)}": map fields cannot be set from the query`);
    if (f.fieldKind === "message" && !isTextMessage(f.message)) {
      throw new QueryError(`query parameter "${clip(name)}" names a message; set its fields instead (${name}.field=value)`);
    }
    if (f.fieldKind !== "list" && seen.has(key)) throw new QueryError(`query parameter "${clip(name)}" is given more than once but is not repeated`);
    seen.add(key);
    let parsed: unknown;
    try {
      parsed = parseFieldValue(f, value);
    } catch (e) {
      if (e instanceof ValueError) throw new QueryError(`query parameter "${clip(name)}": ${e.message}`);
      throw e;
    }
    if (f.fieldKind === "list") (msg.get(f) as { add(v: unknown): void }).add(parsed);
    else {
      if (f.oneof && f.oneof.kind === "oneof") {
        const other = msg.oneofCase(f.oneof);
        if (other && other !== f) throw new QueryError(`query parameter "${clip(name)}": oneof ${f.oneof.name} already has "${other.name}"`);
      }
      msg.set(f, parsed);
    }
  }
}

const clip = (s: string) => (s.length > 64 ? s.slice(0, 61) + "..." : s);
