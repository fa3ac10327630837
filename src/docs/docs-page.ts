import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** A static asset served from memory. */
export interface Asset {
  body: Buffer;
  contentType: string;
}

// Only these files of swagger-ui-dist are served: a fixed list, so no request path reaches the file system.
const FILES: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
};

/** Swagger UI's files from the swagger-ui-dist package, read once on first use. */
export function swaggerAssets(): (name: string) => Asset | undefined {
  const cache = new Map<string, Asset>();
  const dir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  return (name) => {
    if (!Object.hasOwn(FILES, name)) return undefined;
    let a = cache.get(name);
    if (!a) cache.set(name, (a = { body: readFileSync(join(dir, name)), contentType: FILES[name] }));
    return a;
  };
}

/** The /docs page: Swagger UI on the server's own /openapi.json, assets from /docs/ (no CDN). */
export function docsHtml(title: string): string {
  const t = title.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${t}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;
}

/** The Swagger UI start script, a file rather than inline so the page works under a strict CSP. */
export const initJs = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  tryItOutEnabled: true,
  // Off: on any host but localhost it would send the spec URL to validator.swagger.io (blocked by the CSP).
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  layout: "StandaloneLayout",
});
`;

/** The Content-Security-Policy of the docs pages: everything from this origin only. */
export const docsCsp = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'";
