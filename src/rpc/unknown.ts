import { encodeGrpcMessage } from "./wire.js";
import type { Feature } from "../server.js";
import { pathOf } from "../http/dispatcher.js";

// "/pkg.Service/Method": the shape of a gRPC or Connect path.
const RPC_PATH = /^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/;

/**
 * Answers RPCs to unknown services or methods in the caller's own protocol: gRPC and gRPC-Web get
 * grpc-status UNIMPLEMENTED (trailers-only), Connect gets its error JSON with HTTP 404. Placed after
 * every other feature, so that only what nothing else took arrives here.
 */
export function unknownRpcFeature(): Feature {
  return {
    name: "unknown-rpc",
    http(req, res) {
      const path = pathOf(req.url);
      const ct = String(req.headers["content-type"] ?? "");
      if (req.method !== "POST" || !RPC_PATH.test(path)) return false;
      const message = `unknown method ${path.slice(1)}: see the services this server offers with grpc reflection or /openapi.json`;
      if (ct.startsWith("application/grpc")) {
        // Trailers-only response: status and message in the headers of a 200 response. Set, not
        // writeHead: on Node's HTTP/2 compat API writeHead + end() sends the HEADERS frame without
        // END_STREAM, and grpc-js then ignores the status in it (and reports INTERNAL).
        res.statusCode = 200;
        res.setHeader("content-type", ct.startsWith("application/grpc-web") ? ct : "application/grpc");
        res.setHeader("grpc-status", "12");
        res.setHeader("grpc-message", encodeGrpcMessage(message));
        res.end();
        return true;
      }
      if (ct.startsWith("application/json") || ct.startsWith("application/proto") || ct.startsWith("application/connect+")) {
        const body = JSON.stringify({ code: "unimplemented", message });
        res.writeHead(404, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
        return true;
      }
      return false;
    },
  };
}
