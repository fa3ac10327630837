import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { StatusSchema } from "../gen/google/rpc/status_pb.js";
import type { RestRoute } from "../rest/routes.js";
import { isHttpBody } from "../rest/request.js";
import { isTextMessage } from "../rest/values.js";
import type { Comments } from "./comments.js";
import { SchemaSet, type Schema } from "./schema.js";
import { accessSentence, BEARER_SCHEME, bearerScheme, openApiSecurity, type DocsAuth } from "./security.js";

const STANDARD = new Set(["GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"]);

/** Title, version and description of the generated document. */
export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

/**
 * Builds an OpenAPI 3.1 document from the REST routes (HttpRules read from the descriptors):
 * paths, path and query parameters, request bodies, responses, google.rpc.Status errors, and the
 * .proto comments as descriptions. With `auth`, the bearer security scheme and each operation's
 * `security` from the auth rules (public methods: `[]`); without it, no security at all.
 * Pure: the same routes give the same document.
 */
export function openApiDocument(routes: readonly RestRoute[], comments: Comments, info: OpenApiInfo, auth?: DocsAuth): Record<string, unknown> {
  const schemas = new SchemaSet(comments);
  const status = schemas.message(StatusSchema);
  const paths: Record<string, Record<string, unknown>> = {};
  const ids = new Map<string, number>();
  for (const route of routes) {
    const { path, params } = openApiPath(route, comments);
    const m = route.method.method;
    const base = `${m.parent.typeName}.${m.name}`;
    const n = ids.get(base) ?? 0;
    ids.set(base, n + 1);
    const bound = new Set(route.pathFields.map((p) => p.name));
    if (route.bodyField) bound.add(route.bodyField.name);
    const parameters = [...params, ...(route.body === "*" ? [] : queryParams(m.input, bound, schemas, comments))];
    const op: Record<string, unknown> = {
      operationId: n === 0 ? base : `${base}_${n}`,
      tags: [m.parent.typeName],
      summary: m.name,
      parameters,
      responses: {
        "200": responseOf(route, schemas),
        default: { description: "An error, as google.rpc.Status", content: { "application/json": { schema: status } } },
      },
    };
    const d = comments.get(base);
    if (d) op.description = d;
    if (auth) {
      const access = auth.access(`${m.parent.typeName}/${m.name}`);
      op.security = openApiSecurity(access);
      if (typeof access === "object") op.description = `${d ?? ""}\n\n${accessSentence(access)}`.trim();
      if (access !== "public") Object.assign(op.responses as object, { "401": { description: "No valid bearer token (see WWW-Authenticate)", content: { "application/json": { schema: status } } } });
      if (typeof access === "object") Object.assign(op.responses as object, { "403": { description: "The token lacks a scope this method needs", content: { "application/json": { schema: status } } } });
    }
    if (route.body !== "") op.requestBody = requestBodyOf(route, schemas);
    const kind = m.methodKind;
    if (kind === "client_streaming" || kind === "bidi_streaming") {
      op.description = `${(op.description as string | undefined) ?? ""}\n\nNot callable over REST (${kind.replace("_", "-")}): use gRPC, Connect or the WebSocket bridge at /ws.`.trim();
    }
    // OpenAPI 3.1 knows only the standard methods; custom ones (google.api.http `custom`) go in an extension.
    const key = STANDARD.has(route.httpMethod) ? route.httpMethod.toLowerCase() : `x-custom-method-${route.httpMethod.toLowerCase()}`;
    (paths[path] ??= {})[key] = op;
  }
  return {
    openapi: "3.1.0",
    info: { title: info.title, version: info.version, ...(info.description ? { description: info.description } : {}) },
    paths,
    components: {
      schemas: schemas.schemas,
      ...(auth ? { securitySchemes: { [BEARER_SCHEME]: bearerScheme(auth, bearerDescription(auth)) } } : {}),
    },
  };
}

// Where REST takes the token (src/auth/auth.ts Auth.rest).
const bearerDescription = (auth: DocsAuth) =>
  "`Authorization: Bearer <token>`." + (auth.cookie ? ` GET and HEAD requests may carry the token in the \`${auth.cookie}\` cookie instead (EventSource cannot send headers).` : "");

/**
 * The OpenAPI path of a template. OpenAPI parameters cover one segment, so literal parts of a
 * variable's pattern move into the path: `/v1/{name=rooms/*}` becomes `/v1/rooms/{name}`, and the
 * server rebuilds name = "rooms/<value>" from the URL. Further wildcards get numbered names.
 * A `**` is ONE parameter whose value may hold "/": OpenAPI clients (Swagger UI included) send it
 * percent-encoded as one segment, and the server decodes a `**` that matched one segment whole,
 * "%2F" included (see extractVariables), so `/v1/{name=files/**}` is `/v1/files/{name}` and
 * name = "dir/a.txt" arrives as files/dir/a.txt.
 */
export function openApiPath(route: RestRoute, comments: Comments = new Map()): { path: string; params: Schema[] } {
  const t = route.template;
  const parts: string[] = [];
  const params: Schema[] = [];
  const used = new Set<string>();
  for (let i = 0; i < t.segments.length; i++) {
    const s = t.segments[i];
    if (s.kind === "literal") {
      parts.push(s.value);
      continue;
    }
    const v = t.variables.find((x) => i >= x.start && i < x.end);
    const base = v ? v.fieldPath.join(".") : "path";
    let name = base;
    for (let k = 2; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    parts.push(`{${name}}`);
    const pattern = v ? printSegments(route, v.start, v.end) : s.kind === "deep" ? "**" : "*";
    const leaf = v ? route.pathFields[t.variables.indexOf(v)].path.at(-1) : undefined;
    const comment = leaf ? comments.get(`${leaf.parent.typeName}.${leaf.name}`) : undefined;
    const shape =
      pattern === "*"
        ? ""
        : s.kind === "deep"
          ? `The rest of ${base} = "${pattern}": any path, "/" allowed (e.g. "dir/a.txt").`
          : `Part of ${base} = "${pattern}".`;
    const description = v ? [comment, shape].filter(Boolean).join(" ") || base : "Any segment";
    params.push({ name, in: "path", required: true, description, schema: { type: "string" } });
  }
  return { path: "/" + parts.join("/") + (t.verb ? `:${t.verb}` : ""), params };
}

function printSegments(route: RestRoute, start: number, end: number): string {
  return route.template.segments
    .slice(start, end)
    .map((s) => (s.kind === "literal" ? s.value : s.kind === "wildcard" ? "*" : "**"))
    .join("/");
}

/** Query parameters for every field not bound by the path or the body, nested fields as a.b (depth-limited). */
function queryParams(m: DescMessage, bound: ReadonlySet<string>, schemas: SchemaSet, comments: Comments, prefix = "", depth = 0): Schema[] {
  const out: Schema[] = [];
  for (const f of m.fields) {
    const name = prefix + f.name;
    if (bound.has(name) || f.fieldKind === "map") continue;
    const msg = f.fieldKind === "message" ? f.message : f.fieldKind === "list" && f.listKind === "message" ? f.message : undefined;
    if (msg && !isTextMessage(msg)) {
      if (f.fieldKind === "message" && depth < 3) out.push(...queryParams(msg, bound, schemas, comments, `${name}.`, depth + 1));
      continue;
    }
    const schema = schemas.field(f);
    const p: Schema = { name: prefix + f.jsonName, in: "query", required: false, schema };
    if (f.fieldKind === "list") {
      p.style = "form";
      p.explode = true;
    }
    const d = comments.get(`${f.parent.typeName}.${f.name}`);
    if (d) p.description = d;
    out.push(p);
  }
  return out;
}

function requestBodyOf(route: RestRoute, schemas: SchemaSet): Schema {
  const input = route.method.method.input;
  const f: DescField | undefined = route.bodyField;
  const raw = f ? f.fieldKind === "message" && isHttpBody(f.message) : isHttpBody(input);
  if (raw) return { required: true, content: { "*/*": { schema: { type: "string", format: "binary" } } } };
  return { required: true, content: { "application/json": { schema: f ? schemas.field(f) : schemas.message(input) } } };
}

function responseOf(route: RestRoute, schemas: SchemaSet): Schema {
  const out = route.method.method.output;
  const f = route.responseField;
  const raw = f ? f.fieldKind === "message" && isHttpBody(f.message) : isHttpBody(out);
  if (raw) return { description: "Raw bytes with their content type", content: { "*/*": { schema: { type: "string", format: "binary" } } } };
  const schema = f ? schemas.field(f) : schemas.message(out);
  if (route.method.method.methodKind === "server_streaming") {
    return {
      description: "A stream: newline-delimited JSON by default, Server-Sent Events with Accept: text/event-stream",
      content: {
        "application/x-ndjson": { schema: { type: "object", properties: { result: schema, error: schemas.message(StatusSchema) } } },
        "text/event-stream": { schema: { type: "string", description: "data: <message JSON> per message, then event: end or event: error with a google.rpc.Status" } },
      },
    };
  }
  return { description: "OK", content: { "application/json": { schema } } };
}
