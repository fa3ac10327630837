// Bad frames on the WebSocket bridge, on a connection of their own: each must be answered with an
// error frame in the connection's subprotocol, and the same connection must then still serve a call.
import { Code } from "@connectrpc/connect";
import { WebSocket } from "ws";
import { HelloRequestSchema } from "../../src/gen/example/example_pb.js";
import { WsClient, type Got } from "../ws/client.js";
import type { LaneEnv, Scenario } from "./lane.js";

/** A status frame's code name ("invalid_argument") as a Code; undefined for "ok". */
const codeOf = (f: Got | undefined): Code | undefined => {
  const name = f?.status?.code ?? "missing";
  if (name === "ok") return undefined;
  return Code[name.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase()) as keyof typeof Code] ?? Code.Unknown;
};

async function open(url: string, binary: boolean): Promise<WsClient> {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/ws`, binary ? "oneport.proto.v1" : "oneport.json.v1");
  const c = new WsClient(ws, binary ? "proto" : "json");
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return c;
}

/** Scenarios that send malformed frames over a fresh connection of the given subprotocol. */
export function wsBadFrames(env: LaneEnv, binary: boolean): Scenario[] {
  const protocol = binary ? "ws-proto" : "ws-json";
  const { tally } = env;
  const say = (id: string) => ({ id, method: "example.ExampleService/SayHello", message: { name: "after" } });
  return [
    {
      name: "bad frames, then a good call on the same connection",
      weight: 2,
      run: async () => {
        const c = await open(env.url, binary);
        try {
          // Text on a binary connection, or plain text that is no JSON frame: an id-less error frame.
          c.raw("hello");
          const [first] = await c.idless(1);
          tally.record(protocol, "ws frame: plain text", Code.InvalidArgument, codeOf(first), first.status?.message);
          // Bytes that are no Frame (binary), or JSON that is no object (text).
          c.raw(binary ? Buffer.from([0xff, 0xff, 0xff]) : "[1,2]");
          const second = (await c.idless(2))[1];
          tally.record(protocol, "ws frame: malformed", Code.InvalidArgument, codeOf(second), second.status?.message);
          // A well-formed frame whose message has the wrong type fails only its own stream.
          if (!binary) {
            c.raw(JSON.stringify({ id: "typed", method: "example.ExampleService/SayHello", message: { name: 42 } }));
            const typed = await c.stream("typed");
            tally.record(protocol, "example.ExampleService/SayHello (message of the wrong type)", Code.InvalidArgument, codeOf(typed.at(-1)), typed.at(-1)?.status?.message);
          }
          // A frame for a stream that is not open.
          c.send({ id: "ghost", message: { name: "x" } }, HelloRequestSchema);
          const third = (await c.idless(3))[2];
          tally.record(protocol, "ws frame: no such stream", Code.InvalidArgument, codeOf(third), third.status?.message);
          c.send(say("ok"), HelloRequestSchema);
          const ok = await c.stream("ok");
          const got = binary ? (ok[0]?.message instanceof Uint8Array ? "bytes" : "none") : JSON.stringify(ok[0]?.message);
          const wrong = binary ? (got === "bytes" ? undefined : got) : got === '{"message":"Hello, after"}' ? undefined : got;
          if (wrong !== undefined && codeOf(ok.at(-1)) === undefined) tally.fail(protocol, "example.ExampleService/SayHello (after bad frames)", "ok", "wrong response", wrong);
          else tally.record(protocol, "example.ExampleService/SayHello (after bad frames)", undefined, codeOf(ok.at(-1)), ok.at(-1)?.status?.message);
        } finally {
          c.close();
        }
      },
    },
  ];
}
