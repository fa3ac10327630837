// The Chromium test page's script: plain JS on top of the committed browser bundle, as a page
// without a build step uses it. The test calls these functions through page.evaluate().
import { ChatService, createClient, createWebSocketTransport, ExampleService } from "./oneport-browser.js";

/** One bidi Chat stream from the page: send texts, read what the room says. */
function startChat(room, token, binary) {
  const transport = createWebSocketTransport({ baseUrl: location.origin, useBinaryFormat: binary });
  const client = createClient(ChatService, transport);
  const queue = [];
  let wake;
  let ended = false;
  async function* requests() {
    for (;;) {
      if (queue.length > 0) yield queue.shift();
      else if (ended) return;
      else await new Promise((r) => (wake = r));
    }
  }
  const push = (r) => (queue.push(r), wake?.());
  push({ room, text: "" }); // join
  const responses = client.chat(requests(), { headers: { authorization: `Bearer ${token}` } })[Symbol.asyncIterator]();
  return {
    send: (text) => push({ room, text }),
    async next() {
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

/** A unary call over a fresh transport. */
async function sayHello(name) {
  const transport = createWebSocketTransport({ baseUrl: location.origin });
  try {
    return (await createClient(ExampleService, transport).sayHello({ name })).message;
  } finally {
    await transport.close();
  }
}

globalThis.oneportTest = { startChat, sayHello };
