import type { Feature, ServerContext } from "../server.js";

/** GET /openapi.json and GET /docs (Swagger UI served from swagger-ui-dist, no CDN). */
export function docsFeature(ctx: ServerContext): Feature {
  return { name: "docs" };
}
