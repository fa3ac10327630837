import type { RegisteredMethod, Registry } from "../core/registry.js";
import { StatusSchema } from "../gen/oneport/ws/v1/frame_pb.js";
import { pathOf, sendJson } from "../http/dispatcher.js";
import type { Feature, ServerContext } from "../server.js";
import { subprotocols } from "../ws/frame.js";
import { SchemaSet, type JsonSchema } from "./asyncapi-schema.js";
import { accessSentence, BEARER_SCHEME, bearerScheme, docsAuth, type DocsAuth } from "./security.js";

/** What the document is built from. */
export interface AsyncApiInput {
  registry: Registry;
  /** The bridge's path, e.g. "/ws". */
  path: string;
  /** "host:port" clients reach the server at. */
  host: string;
  secure: boolean;
  /** The auth layer, when configured: the bearer scheme and each operation's security. */
  auth?: DocsAuth;
}

const kinds: Record<RegisteredMethod["spec"]["kind"], string> = {
  unary: "unary: one request frame (its first frame), one response frame that also ends the stream",
  server_streaming: "server streaming: one request frame, then a response frame per message and a final status frame",
  client_streaming: "client streaming: request frames until {id, end: true}, then one response frame and a final status frame",
  bidi_streaming: "bidi streaming: request frames until {id, end: true}; response frames as the service answers; a final status frame",
};

// Component keys allow [A-Za-z0-9.-_]: "example.ExampleService.SayHello".
const key = (m: RegisteredMethod) => `${m.service.typeName}.${m.method.name}`;
const headersSchema: JsonSchema = { type: "object", additionalProperties: { type: "string" }, description: "lower-case names; repeated values joined with \", \"" };

// Where the bridge takes a token (src/auth: Auth.upgrade and the per-call interceptor).
const WS_BEARER =
  "At the upgrade: `Authorization: Bearer <token>`, the subprotocol `oneport.bearer.<token>` (browsers), or the auth cookie; it is then the metadata of every call on the connection. Per call: the first frame's `headers.authorization` overrides it.";

/** The AsyncAPI 3.0 document of the WebSocket bridge, generated from the registered descriptors (pure). */
export function asyncApiDocument(input: AsyncApiInput): Record<string, unknown> {
  const auth = input.auth;
  const bearerRef = { $ref: `#/components/securitySchemes/${BEARER_SCHEME}` };
  const set = new SchemaSet();
  const status = set.ref(StatusSchema);
  const channelMessages: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const channelRef = { $ref: "#/channels/ws" };
  const msgRef = (k: string) => ({ $ref: `#/channels/ws/messages/${k}` });
  const addMessage = (k: string, message: Record<string, unknown>) => {
    messages[k] = message;
    channelMessages[k] = { $ref: `#/components/messages/${k}` };
  };

  addMessage("status", {
    name: "status",
    title: "Final status frame",
    summary: "Ends a stream: exactly one per stream. Without an id it answers a frame that could not be attributed to a stream.",
    payload: {
      type: "object",
      required: ["end", "status"],
      properties: { id: { type: "string" }, headers: headersSchema, end: { const: true }, status, trailers: headersSchema, example: { type: "object", description: "a valid client frame to copy (connection-level errors only)" } },
    },
  });
  addMessage("cancel", {
    name: "cancel",
    title: "Cancel frame",
    summary: "Cancels an open stream; the server answers with its final status (canceled).",
    payload: { type: "object", required: ["id", "cancel"], properties: { id: { type: "string" }, cancel: { const: true } } },
  });

  for (const m of input.registry.methods()) {
    const k = key(m);
    const method = m.path.slice(1);
    const reqKey = `${k}.request`;
    const resKey = `${k}.response`;
    addMessage(reqKey, {
      name: reqKey,
      title: `${m.method.name} request frame`,
      summary: `The first frame names the method; later frames of client and bidi streams carry only id and message.`,
      payload: {
        type: "object",
        required: ["id"],
        properties: {
          id: { type: "string", description: "client-chosen, unique among the connection's open streams" },
          method: { const: method },
          headers: headersSchema,
          timeout_ms: { type: "integer", minimum: 0, description: "deadline of the call in milliseconds (first frame)" },
          message: set.ref(m.method.input),
          end: { type: "boolean", description: "half-close (client and bidi streams)" },
        },
        additionalProperties: false,
      },
    });
    addMessage(resKey, {
      name: resKey,
      title: `${m.method.name} response frame`,
      payload: {
        type: "object",
        required: ["id", "message"],
        properties: { id: { type: "string" }, headers: headersSchema, message: set.ref(m.method.output), end: { type: "boolean" }, status },
      },
    });
    const streams = m.spec.kind === "server_streaming" || m.spec.kind === "bidi_streaming";
    const access = auth?.access(method);
    operations[k] = {
      action: "receive",
      channel: channelRef,
      title: `${m.service.name}.${m.method.name}`,
      summary: `Call ${method} over the WebSocket.`,
      description: access === undefined ? kinds[m.spec.kind] : `${kinds[m.spec.kind]}. ${accessSentence(access)}`,
      tags: [{ name: m.service.typeName }],
      messages: [msgRef(reqKey), msgRef("cancel")],
      reply: { channel: channelRef, messages: [msgRef(resKey), msgRef("status")] },
      // AsyncAPI 3.0 lists schemes, not scopes, for an http scheme: the scopes are in the description.
      ...(access === undefined ? {} : { security: access === "public" ? [] : [bearerRef] }),
    };
    if (streams) {
      // A server stream is a flow of events (e.g. a chat room's messages), not one reply.
      operations[`${k}.events`] = {
        action: "send",
        channel: channelRef,
        title: `${m.service.name}.${m.method.name} events`,
        summary: `Messages the server pushes on an open ${method} stream, then its final status.`,
        tags: [{ name: m.service.typeName }],
        messages: [msgRef(resKey), msgRef("status")],
      };
    }
  }

  return {
    asyncapi: "3.0.0",
    info: {
      title: "oneport WebSocket bridge",
      version: "1.0.0",
      description:
        `Every RPC of this server over one WebSocket at ${input.path}: streams multiplexed by client-chosen ids, ` +
        `frames as oneport.ws.v1.Frame in JSON (${subprotocols.json}, default) or binary protobuf (${subprotocols.proto}).`,
    },
    defaultContentType: "application/json",
    servers: {
      oneport: {
        host: input.host,
        protocol: input.secure ? "wss" : "ws",
        description: "the server's one port (HTTP/1.1 upgrade)",
        // Server security applies to every operation: only when the upgrade itself needs a token.
        ...(auth?.requireForWebSocket ? { security: [bearerRef] } : {}),
      },
    },
    channels: {
      ws: {
        address: input.path,
        title: "WebSocket bridge",
        servers: [{ $ref: "#/servers/oneport" }],
        messages: channelMessages,
        bindings: {
          ws: {
            bindingVersion: "0.1.0",
            method: "GET",
            headers: {
              type: "object",
              properties: {
                "Sec-WebSocket-Protocol": { type: "string", enum: [subprotocols.json, subprotocols.proto], description: "omit for JSON" },
                Authorization: { type: "string", description: "metadata of every call on the connection (frames may override)" },
                Cookie: { type: "string" },
                Origin: { type: "string", description: "browsers: must be the server's own origin or in ws.allowedOrigins" },
              },
            },
          },
        },
      },
    },
    operations,
    components: {
      schemas: set.schemas,
      messages,
      ...(auth ? { securitySchemes: { [BEARER_SCHEME]: bearerScheme(auth, WS_BEARER) } } : {}),
    },
  };
}

/** GET /asyncapi.json: the document for the Host the client used. */
export function asyncApiFeature(ctx: ServerContext): Feature {
  const secure = !!ctx.options.tls;
  return {
    name: "asyncapi",
    http(req, res) {
      if (pathOf(req.url) !== "/asyncapi.json") return false;
      if (req.method !== "GET" && req.method !== "HEAD") {
        sendJson(res, 405, { code: "method_not_allowed", message: "/asyncapi.json answers GET and HEAD" }, { allow: "GET, HEAD" });
        return true;
      }
      const host = req.headers.host ?? (req.headers[":authority"] as string | undefined) ?? `127.0.0.1`;
      sendJson(res, 200, asyncApiDocument({ registry: ctx.registry, path: ctx.options.ws.path, host, secure, auth: docsAuth(ctx.auth) }), { "cache-control": "no-cache" });
      return true;
    },
  };
}
