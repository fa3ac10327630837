import { pathOf, sendJson } from "../http/dispatcher.js";
import type { NodeResponse } from "../http/types.js";
import { restRoutes } from "../rest/routes.js";
import type { Feature, ServerContext } from "../server.js";
import { loadComments } from "./comments.js";
import { docsCsp, docsHtml, initJs, swaggerAssets } from "./docs-page.js";
import { openApiDocument } from "./openapi.js";
import { docsAuth } from "./security.js";

const TITLE = "oneport API";

/** GET /openapi.json (OpenAPI 3.1 from the descriptors) and GET /docs (Swagger UI from swagger-ui-dist, no CDN). */
export function docsFeature(ctx: ServerContext): Feature {
  const { rest } = ctx.options;
  if (!rest.enabled || !rest.docs) return { name: "docs" };
  let spec: string | undefined;
  // Built on first request: descriptors never change while the server runs.
  const document = () =>
    (spec ??= JSON.stringify(
      openApiDocument(restRoutes(ctx.registry).list, loadComments(ctx.registry.files(), rest.protoPaths), {
        title: TITLE,
        version: "1.0.0",
        description: `REST endpoints transcoded from the google.api.http annotations of ${[...new Set(restRoutes(ctx.registry).list.map((r) => r.method.service.typeName))].join(", ")}. The same methods answer gRPC, gRPC-Web and Connect on this port.`,
      }, docsAuth(ctx.auth)),
    ));
  const assets = swaggerAssets();
  const send = (res: NodeResponse, head: boolean, contentType: string, body: string | Buffer, extra: Record<string, string> = {}) => {
    (res as { writeHead(s: number, h: Record<string, string>): unknown }).writeHead(200, { "content-type": contentType, "content-length": String(Buffer.byteLength(body)), ...extra });
    if (head) res.end();
    else res.end(body);
  };
  return {
    name: "docs",
    http(req, res) {
      const path = pathOf(req.url);
      if (path !== "/openapi.json" && path !== "/docs" && !path.startsWith("/docs/")) return false;
      if (req.method !== "GET" && req.method !== "HEAD") {
        sendJson(res, 405, { code: 12, message: `${path} answers GET and HEAD`, details: [] }, { allow: "GET, HEAD" });
        return true;
      }
      const head = req.method === "HEAD";
      if (path === "/openapi.json") send(res, head, "application/json", document(), { "cache-control": "no-cache" });
      else if (path === "/docs" || path === "/docs/") send(res, head, "text/html; charset=utf-8", docsHtml(TITLE), { "content-security-policy": docsCsp });
      else if (path === "/docs/init.js") send(res, head, "text/javascript; charset=utf-8", initJs);
      else {
        const a = assets(path.slice("/docs/".length));
        if (!a) {
          sendJson(res, 404, { code: 5, message: `no docs file ${path.slice(0, 200)}`, details: [] });
          return true;
        }
        send(res, head, a.contentType, a.body, { "cache-control": "public, max-age=86400" });
      }
      return true;
    },
  };
}
