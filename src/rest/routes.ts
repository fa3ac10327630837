import { getOption, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { http } from "../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../gen/google/api/http_pb.js";
import type { RegisteredMethod, Registry } from "../core/registry.js";
import { parseTemplate, TemplateError, type Segment, type Template } from "./template.js";
import { RouteTrie } from "./trie.js";

/** One HTTP binding of an RPC method (the rule itself or one of its additional_bindings). */
export interface RestRoute {
  readonly httpMethod: string;
  readonly template: Template;
  readonly segments: Segment[];
  readonly verb: string;
  readonly method: RegisteredMethod;
  /** "" (no body), "*" (the whole request) or a top-level request field name. */
  readonly body: string;
  readonly bodyField?: DescField;
  readonly responseField?: DescField;
  /** The fields bound by path variables, resolved from the request message. */
  readonly pathFields: Array<{ path: DescField[]; name: string }>;
  /** The path as written in the proto, e.g. "GET /v1/hello/{name}". */
  readonly label: string;
}

/** The REST routes of a registry: a trie for requests and the list for documentation. */
export interface RestRoutes {
  readonly trie: RouteTrie<RestRoute>;
  readonly list: RestRoute[];
}

const cache = new WeakMap<Registry, RestRoutes>();

/** Builds (once per registry) every route from the methods' google.api.http options. */
export function restRoutes(registry: Registry): RestRoutes {
  let routes = cache.get(registry);
  if (!routes) cache.set(registry, (routes = buildRoutes(registry.methods())));
  return routes;
}

/** Builds the routes; throws at start-up for a bad template or a field that does not exist. */
export function buildRoutes(methods: RegisteredMethod[]): RestRoutes {
  const trie = new RouteTrie<RestRoute>();
  const list: RestRoute[] = [];
  for (const m of methods) {
    const rule = getOption(m.method, http);
    if (!rule || rule.pattern.case === undefined) continue;
    // Nested additional_bindings are ignored, as the spec says.
    for (const r of [rule, ...rule.additionalBindings]) {
      const route = toRoute(m, r);
      if (!route) continue;
      trie.add(route, (x) => `${x.method.path} (${x.label})`);
      list.push(route);
    }
  }
  return { trie, list };
}

function toRoute(m: RegisteredMethod, rule: HttpRule): RestRoute | undefined {
  const p = rule.pattern;
  if (p.case === undefined) return undefined;
  const httpMethod = p.case === "custom" ? p.value.kind.toUpperCase() : p.case.toUpperCase();
  const source = p.case === "custom" ? p.value.path : p.value;
  const where = `${m.path}: google.api.http ${httpMethod} "${source}"`;
  let template: Template;
  try {
    template = parseTemplate(source);
  } catch (e) {
    if (e instanceof TemplateError) throw new Error(`${where}: ${e.message}`);
    throw e;
  }
  const input = m.method.input;
  const pathFields = template.variables.map((v) => ({ path: resolvePath(input, v.fieldPath, where), name: v.fieldPath.join(".") }));
  let bodyField: DescField | undefined;
  if (rule.body && rule.body !== "*") {
    bodyField = input.fields.find((f) => f.name === rule.body);
    if (!bodyField) throw new Error(`${where}: body "${rule.body}" is not a field of ${input.typeName}`);
  }
  let responseField: DescField | undefined;
  if (rule.responseBody) {
    responseField = m.method.output.fields.find((f) => f.name === rule.responseBody);
    if (!responseField) throw new Error(`${where}: response_body "${rule.responseBody}" is not a field of ${m.method.output.typeName}`);
  }
  return {
    httpMethod,
    template,
    segments: template.segments,
    verb: template.verb,
    method: m,
    body: rule.body,
    bodyField,
    responseField,
    pathFields,
    label: `${httpMethod} ${source}`,
  };
}

/** Resolves "a.b.c" to fields; intermediate fields must be singular messages, the leaf a singular scalar or enum. */
function resolvePath(msg: DescMessage, names: string[], where: string): DescField[] {
  const out: DescField[] = [];
  let cur: DescMessage | undefined = msg;
  for (const [i, n] of names.entries()) {
    const f: DescField | undefined = cur?.fields.find((x) => x.name === n);
    if (!f) throw new Error(`${where}: path variable "${names.join(".")}": ${cur?.typeName} has no field "${n}"`);
    const leaf = i === names.length - 1;
    if (leaf ? f.fieldKind !== "scalar" && f.fieldKind !== "enum" : f.fieldKind !== "message") {
      throw new Error(`${where}: path variable "${names.join(".")}": field "${n}" must be ${leaf ? "a singular scalar or enum" : "a singular message"}`);
    }
    out.push(f);
    cur = f.fieldKind === "message" ? f.message : undefined;
  }
  return out;
}
