// Bundled by esbuild for the Chromium test page: the transport as a browser ES module, plus a small
// chat driver the test calls through page.evaluate().
import { createClient } from "@connectrpc/connect";
import { createWebSocketTransport } from "../../../src/client/index.js";
import { ChatService, type ChatRequest } from "../../../src/gen/chat/v1/chat_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ChatRequestSchema } from "../../../src/gen/chat/v1/chat_pb.js";

type Req = MessageInitShape<typeof ChatRequestSchema>;

/** One bidi Chat stream from the page: send texts, read what the room says. */
function startChat(room: string, token: string, binary: boolean) {
  const transport = createWebSocketTransport({ baseUrl: location.origin, useBinaryFormat: binary });
  const client = createClient(ChatService, transport);
  const queue: Req[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  async function* requests(): AsyncGenerator<Req> {
    for (;;) {
      if (queue.length > 0) yield queue.shift() as Req;
      else if (ended) return;
      else await new Promise<void>((r) => (wake = r));
    }
  }
  const push = (r: Req) => (queue.push(r), wake?.());
  push({ room, text: "" }); // join
  const responses = client.chat(requests(), { headers: { authorization: `Bearer ${token}` } })[Symbol.asyncIterator]();
  return {
    send: (text: string) => push({ room, text }),
    async next(): Promise<{ author: string; text: string } | null> {
      const r = await responses.next();
      return r.done ? null : { author: r.value.message?.author ?? "", text: r.value.message?.text ?? "" };
    },
    async close() {
      ended = true;
      wake?.();
      await transport.close();
    },
  };
}

/** A unary call over a fresh transport (the page's "SayHello over WebSocket"). */
async function sayHello(name: string): Promise<string> {
  const { ExampleService } = await import("../../../src/gen/example/example_pb.js");
  const transport = createWebSocketTransport({ baseUrl: location.origin });
  try {
    return (await createClient(ExampleService, transport).sayHello({ name })).message;
  } finally {
    await transport.close();
  }
}

export type { ChatRequest };
(globalThis as Record<string, unknown>).oneportTest = { startChat, sayHello };
