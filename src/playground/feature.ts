import { readFileSync } from "node:fs";
import { bundlePath } from "../client/bundle.js";
import { pathOf, sendJson } from "../http/dispatcher.js";
import type { Feature, ServerContext } from "../server.js";

/** Options of the playground page. */
export interface PlaygroundOptions {
  /**
   * Tokens the page may offer to the visitor (name -> token), e.g. the CLI's well-known dev tokens.
   * Never pass real tokens: /playground.json shows them to anyone who can reach the server.
   */
  devTokens?: ReadonlyMap<string, string>;
}

interface Asset {
  type: string;
  body: Buffer;
}

const dir = new URL("./static/", import.meta.url);
const load = (file: string, type: string): Asset => ({ type, body: readFileSync(new URL(file, dir)) });

// Read once at start-up: the page is a handful of small files, and a missing one should fail fast.
const assets: Record<string, Asset> = {
  "/": load("index.html", "text/html; charset=utf-8"),
  "/playground/app.js": load("app.js", "text/javascript; charset=utf-8"),
  "/playground/ws-client.js": load("ws-client.js", "text/javascript; charset=utf-8"),
  // The Connect transport over /ws, bundled for browsers (src/client/dist, `npm run build:client`).
  "/playground/oneport-browser.js": { type: "text/javascript; charset=utf-8", body: readFileSync(bundlePath) },
  "/playground/style.css": load("style.css", "text/css; charset=utf-8"),
};

// The page runs no inline code and loads nothing from elsewhere; 'self' covers same-origin ws:/wss:.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** What the page learns about the server from /playground.json. */
export function playgroundInfo(ctx: ServerContext, options: PlaygroundOptions): unknown {
  const services = ctx.registry.services().map((s) => ({
    name: s.typeName,
    methods: s.methods.map((m) => ({ name: m.name, kind: m.methodKind, input: m.input.typeName, output: m.output.typeName })),
  }));
  return {
    services,
    ws: { path: ctx.options.ws.enabled ? ctx.options.ws.path : null, subprotocol: "oneport.json.v1" },
    chat: services.some((s) => s.name === "chat.v1.ChatService") ? { devTokens: [...(options.devTokens ?? [])].map(([token, name]) => ({ name, token })) } : null,
    links: { docs: "/docs", openapi: "/openapi.json", asyncapi: "/asyncapi.json" },
  };
}

/**
 * The playground at GET /: a static page plus one plain JS module (no build step, no CDN) that
 * calls the API over Connect (fetch) and over the WebSocket bridge, and shows a chat room live.
 * Demo-only, so the CLI adds it (ServerOptions.features); a library user's GET / stays free.
 */
export function playgroundFeature(options: PlaygroundOptions = {}): (ctx: ServerContext) => Feature {
  return (ctx) => {
    const info = JSON.stringify(playgroundInfo(ctx, options));
    return {
      name: "playground",
      http(req, res) {
        const path = pathOf(req.url);
        const asset = assets[path];
        if (!asset && path !== "/playground.json") return false;
        if (req.method !== "GET" && req.method !== "HEAD") {
          sendJson(res, 405, { code: "method_not_allowed", message: `${path} answers GET and HEAD` }, { allow: "GET, HEAD" });
          return true;
        }
        const body = asset ? asset.body : Buffer.from(info);
        res.writeHead(200, {
          "content-type": asset ? asset.type : "application/json",
          "content-length": body.length,
          "cache-control": "no-cache",
          "x-content-type-options": "nosniff",
          ...(path === "/" ? { "content-security-policy": csp, "referrer-policy": "no-referrer" } : {}),
        });
        if (req.method === "HEAD") res.end();
        else res.end(body);
        return true;
      },
    };
  };
}
