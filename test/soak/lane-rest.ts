// The REST lane: google.api.http routes with fetch (JSON and NDJSON streams) and server streams as
// Server-Sent Events with a real EventSource client, some closed midway; errors are google.rpc.Status.
import { Code, ConnectError } from "@connectrpc/connect";
import { EventSource } from "eventsource";
import type { Lane, LaneEnv } from "./lane.js";

const P = "rest";

/** Fetches and returns the JSON body; a non-2xx answer rejects with the google.rpc.Status code. */
async function json(url: string, init?: RequestInit): Promise<unknown> {
  const res = await fetch(url, init);
  const body = (await res.json()) as { code?: number; message?: string };
  if (!res.ok) throw new ConnectError(`HTTP ${res.status}: ${body.message ?? ""}`, (body.code ?? Code.Unknown) as Code);
  return body;
}

/** Reads an NDJSON stream; `stopAfter` aborts the request after that many lines (the client goes away). */
async function ndjson(url: string, stopAfter?: number): Promise<string[]> {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal });
  if (!res.ok) throw new ConnectError(`HTTP ${res.status}`, Code.Unknown);
  const got: string[] = [];
  let buf = "";
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = JSON.parse(buf.slice(0, nl)) as { result?: { message: string }; error?: { code: number; message: string } };
        buf = buf.slice(nl + 1);
        if (line.error) throw new ConnectError(line.error.message, line.error.code as Code);
        got.push(line.result?.message ?? "");
        if (got.length === stopAfter) {
          ac.abort();
          throw new ConnectError("aborted by the client", Code.Canceled);
        }
      }
    }
  } catch (e) {
    if (ac.signal.aborted) throw new ConnectError("aborted by the client", Code.Canceled);
    throw e;
  }
  return got;
}

/** Reads a server stream as SSE until `end`; `stopAfter` closes the EventSource after that many messages. */
function sse(url: string, stopAfter?: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const es = new EventSource(url);
    const got: string[] = [];
    es.onmessage = (e) => {
      got.push((JSON.parse(e.data) as { message: string }).message);
      if (got.length === stopAfter) {
        es.close();
        reject(new ConnectError("closed by the client", Code.Canceled));
      }
    };
    es.addEventListener("end", () => {
      es.close();
      resolve(got);
    });
    es.addEventListener("error", (e) => {
      es.close();
      const data = (e as MessageEvent).data as string | undefined;
      const status = data ? (JSON.parse(data) as { code: number; message: string }) : { code: Code.Unavailable, message: `EventSource failed: ${String((e as { message?: string }).message)}` };
      reject(new ConnectError(status.message, status.code as Code));
    });
  });
}

/** The REST lane. */
export function restLane(env: LaneEnv): Lane {
  const { tally, url } = env;
  let seq = 0;
  const name = () => `rest-${++seq}`;
  const five = (n: string) => [1, 2, 3, 4, 5].map((i) => `Hello, ${n} (${i}/5)`).join("|");
  return {
    protocol: P,
    scenarios: [
      {
        name: "unary",
        weight: 8,
        run: () => {
          const n = name();
          return tally.call(P, "GET /v1/hello/{name}", undefined, () => json(`${url}/v1/hello/${n}`), (b) => ((b as { message?: string }).message === `Hello, ${n}` ? undefined : `got ${JSON.stringify(b)}`));
        },
      },
      {
        name: "NDJSON stream",
        weight: 2,
        run: () => {
          const n = name();
          return tally.call(P, "GET /v1/hello/{name}/stream (NDJSON)", undefined, () => ndjson(`${url}/v1/hello/${n}/stream?count=5`), (got) => (got.join("|") === five(n) ? undefined : `got ${got.join("|")}`));
        },
      },
      {
        name: "NDJSON stream aborted midway",
        weight: 1,
        run: () => tally.call(P, "GET /v1/hello/{name}/stream (NDJSON, client aborts)", Code.Canceled, () => ndjson(`${url}/v1/hello/${name()}/stream?count=50&intervalMs=20`, 2)),
      },
      {
        name: "SSE stream",
        weight: 2,
        run: () => {
          const n = name();
          return tally.call(P, "GET /v1/hello/{name}/stream (SSE)", undefined, () => sse(`${url}/v1/hello/${n}/stream?count=5`), (got) => (got.join("|") === five(n) ? undefined : `got ${got.join("|")}`));
        },
      },
      {
        name: "SSE stream closed midway",
        weight: 2,
        run: () => tally.call(P, "GET /v1/hello/{name}/stream (SSE, client closes)", Code.Canceled, () => sse(`${url}/v1/hello/${name()}/stream?count=50&intervalMs=20`, 2)),
      },
      { name: "invalid argument", weight: 1, run: () => tally.call(P, "GET /v1/hello/{name}/stream (count over 100)", Code.InvalidArgument, () => json(`${url}/v1/hello/x/stream?count=1000`)) },
      { name: "unknown route", weight: 1, run: () => tally.call(P, "GET /v1/nope (no route)", Code.NotFound, () => json(`${url}/v1/nope/${name()}`)) },
      { name: "wrong verb", weight: 1, run: () => tally.call(P, "POST /v1/hello/{name} (405)", Code.Unimplemented, () => json(`${url}/v1/hello/x`, { method: "POST" })) },
      {
        name: "body over the limit",
        weight: 1,
        run: () =>
          tally.call(P, "POST /v1/rooms/{room}/messages (body over limit)", Code.ResourceExhausted, () =>
            json(`${url}/v1/rooms/soak-big/messages`, {
              method: "POST",
              headers: { "content-type": "application/json", authorization: `Bearer ${env.chatToken}` },
              body: JSON.stringify({ text: "x".repeat(env.maxMessageBytes + 100) }),
            }),
          ),
      },
    ],
    async close() {},
  };
}
