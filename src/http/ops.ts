import type { HealthState } from "../services/health.js";
import { ServingStatus } from "../services/health.js";
import { pathOf, sendJson } from "./dispatcher.js";
import type { HttpHandler } from "./types.js";

/** /healthz (the process answers) and /readyz (the server is serving, not shutting down). */
export function opsHandler(health: HealthState): HttpHandler {
  return (req, res) => {
    const path = pathOf(req.url);
    if (path !== "/healthz" && path !== "/readyz") return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendJson(res, 405, { code: "method_not_allowed", message: `${path} answers GET and HEAD` }, { allow: "GET, HEAD" });
      return true;
    }
    if (path === "/healthz") {
      sendJson(res, 200, { status: "ok" });
      return true;
    }
    const serving = health.get("") === ServingStatus.SERVING;
    sendJson(res, serving ? 200 : 503, { status: serving ? "ready" : "not ready" });
    return true;
  };
}
