/** Options of REST transcoding and its documentation (ServerOptions.rest). */
export interface RestOptions {
  /** Serve google.api.http routes (default true). */
  enabled: boolean;
  /**
   * Request headers passed to calls as metadata: exact names, or prefixes written "x-*".
   * Grpc-Metadata-NAME always passes, as NAME. Default: authorization, x-request-id, traceparent, tracestate.
   */
  metadataHeaders: string[];
  /** The request header carrying a deadline in gRPC timeout format ("5S", "250m"); "" turns it off. */
  deadlineHeader: string;
  /** Serve GET /openapi.json and the Swagger UI at GET /docs (default true). */
  docs: boolean;
  /** Folders holding the .proto sources whose comments become OpenAPI descriptions (default ["proto", "third_party"]). */
  protoPaths: string[];
}

/** Default REST options. */
export const defaultRestOptions: RestOptions = {
  enabled: true,
  metadataHeaders: ["authorization", "x-request-id", "traceparent", "tracestate"],
  deadlineHeader: "grpc-timeout",
  docs: true,
  protoPaths: ["proto", "third_party"],
};

/** Validates REST options and fills in defaults; throws an Error naming the bad option. */
export function resolveRestOptions(opts: Partial<RestOptions> = {}): RestOptions {
  const out: RestOptions = { ...defaultRestOptions };
  for (const [k, v] of Object.entries(opts)) {
    if (!(k in defaultRestOptions)) throw new Error(`unknown rest option "${k}"; known: ${Object.keys(defaultRestOptions).join(", ")}`);
    if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  }
  for (const k of ["enabled", "docs"] as const) if (typeof out[k] !== "boolean") throw new Error(`rest.${k} must be a boolean`);
  for (const k of ["metadataHeaders", "protoPaths"] as const) {
    if (!Array.isArray(out[k]) || out[k].some((x) => typeof x !== "string" || x === "")) throw new Error(`rest.${k} must be an array of non-empty strings`);
  }
  if (out.metadataHeaders.some((h) => !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(h) || h.indexOf("*") !== -1 && h.indexOf("*") !== h.length - 1)) {
    throw new Error(`rest.metadataHeaders must hold header names or prefixes ending in "*", got ${JSON.stringify(out.metadataHeaders)}`);
  }
  if (typeof out.deadlineHeader !== "string" || (out.deadlineHeader !== "" && !/^[A-Za-z0-9-]+$/.test(out.deadlineHeader))) {
    throw new Error(`rest.deadlineHeader must be a header name or "", got ${JSON.stringify(out.deadlineHeader)}`);
  }
  out.deadlineHeader = out.deadlineHeader.toLowerCase();
  return out;
}
