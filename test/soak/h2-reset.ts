// A scenario grpc-js and connect-node's clients cannot make: a raw HTTP/2 client that resets a
// streaming call mid-way with an error code (they send CANCEL). The server must count it as the
// client's cancel (CANCELED), never as its own fault (run.ts checks that no call is counted INTERNAL).
import * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import type { LaneEnv, Scenario } from "./lane.js";

/** The request of the call to reset: path, content type and the enveloped first message. */
export interface ResetCall {
  path: string;
  contentType: string;
  /** The first message as a length-prefixed frame (src/rpc/wire.ts envelope, uncompressed). */
  body(): Uint8Array;
  /** Whether the request side stays open (a bidi or client stream) or ends with the message. */
  open: boolean;
}

/** The scenario, on a raw HTTP/2 session of its own (a new one when the server closed the last). */
export function resetScenario(protocol: string, env: LaneEnv, call: ResetCall, label: string): Scenario & { close(): void } {
  let raw: http2.ClientHttp2Session | undefined;
  return {
    name: `${label} reset by the client with INTERNAL_ERROR`,
    weight: 1,
    run: () =>
      env.tally.call(protocol, `${call.path.slice(1)} (client resets with INTERNAL_ERROR)`, Code.Canceled, async () => {
        if (raw === undefined || raw.closed || raw.destroyed) raw = http2.connect(env.url).on("error", () => {});
        const req = raw.request({ ":method": "POST", ":path": call.path, "content-type": call.contentType, te: "trailers" });
        req.on("error", () => {}); // our own reset
        if (call.open) req.write(call.body());
        else req.end(call.body());
        // The first answer is out: the call runs on the server.
        await new Promise<void>((resolve, reject) => {
          req.once("data", () => resolve());
          req.once("close", () => reject(new ConnectError("the stream closed before its first answer", Code.Unknown)));
        });
        req.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        throw new ConnectError("reset by this client", Code.Canceled);
      }),
    close: () => raw?.destroy(),
  };
}
