// Fan-out latency for scale.bench.ts: N Connect server streams (Subscribe) spread over instances,
// one sender; each message carries its send time, each delivery records now - sent.
import { setMaxListeners } from "node:events";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ChatService } from "../../src/gen/chat/v1/chat_pb.js";

const headers = { authorization: "Bearer alice-token" };

/** Subscribes `subscribers` streams to `room` across `ports`, sends `messages` one at a time, returns every delivery latency in ms. */
export async function fanOut(opts: { ports: number[]; subscribers: number; messages: number; room: string }): Promise<number[]> {
  const perConnection = 100; // well under the server's 250 concurrent streams per HTTP/2 connection
  const groups = Math.ceil(opts.subscribers / perConnection);
  const transports = Array.from({ length: groups }, (_, g) => createConnectTransport({ baseUrl: `http://127.0.0.1:${opts.ports[g % opts.ports.length]}`, httpVersion: "2", useBinaryFormat: true }));
  const ctl = new AbortController();
  setMaxListeners(opts.subscribers + 10, ctl.signal); // one abort listener per stream is expected
  const heardProbe = new Array<boolean>(opts.subscribers).fill(false);
  const latencies: number[] = [];
  let delivered = 0;
  const failures: unknown[] = [];
  const streams = Array.from({ length: opts.subscribers }, async (_, i) => {
    const client = createClient(ChatService, transports[i % groups]!);
    try {
      for await (const res of client.subscribe({ room: opts.room }, { signal: ctl.signal, headers })) {
        const text = res.message?.text ?? "";
        if (text === "probe") heardProbe[i] = true;
        else {
          latencies.push(performance.now() - Number(text));
          delivered++;
        }
      }
    } catch (e) {
      if (!ctl.signal.aborted) failures.push(e);
    }
  });
  const check = () => {
    if (failures.length > 0) throw new Error(`${failures.length} subscriptions failed, first: ${String(failures[0])}`);
  };
  const sender = createClient(ChatService, createConnectTransport({ baseUrl: `http://127.0.0.1:${opts.ports[0]}`, httpVersion: "2", useBinaryFormat: true }));
  // Streams register asynchronously (and on other instances, through Redis): probe until all hear.
  while (!heardProbe.every(Boolean)) {
    check();
    await sender.send({ room: opts.room, text: "probe" }, { headers });
    await new Promise((r) => setTimeout(r, 100));
  }
  for (let k = 1; k <= opts.messages; k++) {
    await sender.send({ room: opts.room, text: String(performance.now()) }, { headers });
    // One message at a time: latency without queueing behind the previous message.
    const stopAt = Date.now() + 10_000;
    while (delivered < k * opts.subscribers && Date.now() < stopAt && failures.length === 0) await new Promise((r) => setImmediate(r));
    check();
    if (delivered < k * opts.subscribers) throw new Error(`message ${k}: only ${delivered - (k - 1) * opts.subscribers} of ${opts.subscribers} deliveries within 10 s`);
  }
  ctl.abort();
  await Promise.allSettled(streams);
  return latencies;
}
