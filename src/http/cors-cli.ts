import { resolveCorsOptions, type CorsOptions } from "./cors.js";

/** The CORS lines of the CLI's --help. */
export const corsUsage = `  --cors-origins LIST browser origins allowed to call, comma-separated [CORS_ORIGINS, default none]
                      (https://app.example.com, https://*.example.com or *)
  --cors-credentials on|off  allow cookies and HTTP auth (not with *) [CORS_CREDENTIALS, default off]
  --cors-max-age N    seconds a browser may cache a preflight        [CORS_MAX_AGE, default 7200]
  --cors-expose-headers LIST  response headers pages may read besides the
                      gRPC/Connect ones and WWW-Authenticate, comma-separated [CORS_EXPOSE_HEADERS]
`;

/** The CORS flags for node:util parseArgs. */
export const corsFlags = {
  "cors-origins": { type: "string" },
  "cors-credentials": { type: "string" },
  "cors-max-age": { type: "string" },
  "cors-expose-headers": { type: "string" },
} as const;

const list = (raw: string | undefined) => raw?.split(",").map((s) => s.trim()).filter((s) => s !== "");

/**
 * The server's CORS block from flags and environment (`pick(flag, ENV)`), validated by
 * resolveCorsOptions; a mistake stops the CLI with a message that names the flag to fix.
 */
export function corsFromCli(pick: (flag: string, env: string) => string | undefined): Partial<CorsOptions> {
  const opts: Partial<CorsOptions> = {};
  const origins = list(pick("cors-origins", "CORS_ORIGINS"));
  if (origins) opts.allowedOrigins = origins;
  const credentials = pick("cors-credentials", "CORS_CREDENTIALS");
  if (credentials !== undefined) {
    const v = credentials.trim().toLowerCase();
    if (["on", "true", "1", "yes"].includes(v)) opts.allowCredentials = true;
    else if (["off", "false", "0", "no"].includes(v)) opts.allowCredentials = false;
    else throw new Error(`--cors-credentials (CORS_CREDENTIALS) must be on or off, got "${credentials}"`);
  }
  const maxAge = pick("cors-max-age", "CORS_MAX_AGE");
  if (maxAge !== undefined) {
    if (!/^\d{1,9}$/.test(maxAge.trim())) throw new Error(`--cors-max-age (CORS_MAX_AGE) must be a number of seconds, got "${maxAge}"`);
    opts.maxAgeSeconds = Number(maxAge);
  }
  const exposed = list(pick("cors-expose-headers", "CORS_EXPOSE_HEADERS"));
  if (exposed) opts.exposedHeaders = exposed;
  try {
    resolveCorsOptions(opts);
  } catch (e) {
    const msg = (e as Error).message;
    const flag = msg.startsWith("cors.allowedOrigins")
      ? "--cors-origins (CORS_ORIGINS)"
      : msg.startsWith("cors.allowCredentials")
        ? "--cors-credentials (CORS_CREDENTIALS)"
        : msg.startsWith("cors.exposedHeaders")
          ? "--cors-expose-headers (CORS_EXPOSE_HEADERS)"
          : "--cors-max-age (CORS_MAX_AGE)";
    throw new Error(`${flag}: ${msg}`);
  }
  return opts;
}
