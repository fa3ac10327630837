import { Code, ConnectError } from "@connectrpc/connect";
import { wsSubprotocols } from "./ws-codec.js";
import { Link } from "./ws-link.js";
import type { ResolvedWsTransportOptions, WebSocketLike } from "./ws-options.js";

/** Where the shared socket stands; changed only in setState(). */
export type ConnectionState =
  | { readonly state: "idle" }
  | { readonly state: "connecting"; readonly link: Promise<Link> }
  | { readonly state: "open"; readonly link: Link }
  | { readonly state: "closed" };

/**
 * The one WebSocket a transport shares between its calls: opened lazily by the first call, replaced
 * after a drop when the next call needs it, with exponential backoff between failed attempts so a
 * down server is not hammered. Calls in flight on a dropped socket fail (UNAVAILABLE); they are
 * never moved to the next socket, because the server lost their state with the old one.
 */
export class WsConnection {
  private st: ConnectionState = { state: "idle" };
  private failures = 0;
  private retryAt = 0;
  private seq = 0;

  constructor(private readonly opts: ResolvedWsTransportOptions) {}

  /** The current state (for tests and status displays). */
  get state(): ConnectionState["state"] {
    return this.st.state;
  }

  /** A stream id unique for the life of the transport (so never reused on any socket). */
  nextId(): string {
    return (++this.seq).toString(36);
  }

  /** The open link, connecting first if needed; rejects with UNAVAILABLE, or the signal's reason. */
  async acquire(signal: AbortSignal): Promise<Link> {
    for (;;) {
      signal.throwIfAborted();
      const st = this.st;
      if (st.state === "closed") throw new ConnectError("the WebSocket transport is closed", Code.Unavailable);
      if (st.state === "open") {
        if (st.link.isAlive) return st.link;
        this.setState({ state: "idle" });
        continue;
      }
      if (st.state === "connecting") return raceSignal(st.link, signal);
      const wait = this.retryAt - Date.now();
      if (wait > 0) {
        await sleep(wait, signal);
        continue;
      }
      const link = this.connect().then(
        (l) => {
          this.failures = 0;
          if (this.st.state === "closed") {
            l.kill(new ConnectError("the WebSocket transport is closed", Code.Unavailable));
            throw new ConnectError("the WebSocket transport is closed", Code.Unavailable);
          }
          this.setState({ state: "open", link: l });
          return l;
        },
        (err: unknown) => {
          this.failures++;
          const delay = Math.min(this.opts.reconnectMaxDelayMs, this.opts.reconnectInitialDelayMs * 2 ** (this.failures - 1));
          // Full jitter on the upper half, so many clients of a restarted server do not reconnect in step.
          this.retryAt = Date.now() + delay * (0.5 + Math.random() / 2);
          if (this.st.state !== "closed") this.setState({ state: "idle" });
          throw err;
        },
      );
      link.catch(() => {});
      this.setState({ state: "connecting", link });
      return raceSignal(link, signal);
    }
  }

  /** Closes the socket (code 1000) and fails calls still open with CANCELED; later calls fail. */
  async close(): Promise<void> {
    const st = this.st;
    this.setState({ state: "closed" });
    const link = st.state === "open" ? st.link : st.state === "connecting" ? await st.link.catch(() => undefined) : undefined;
    if (!link) return;
    const closed = link.closed();
    link.kill(new ConnectError("the WebSocket transport was closed", Code.Canceled), 1000, "client closed");
    await closed;
  }

  private setState(s: ConnectionState): void {
    this.st = s;
  }

  // Opens one socket; resolves once the server accepted our subprotocol.
  private connect(): Promise<Link> {
    const { url, format, connectTimeoutMs } = this.opts;
    return new Promise<Link>((resolve, reject) => {
      let socket: WebSocketLike;
      try {
        socket = new this.opts.WebSocket(url, [wsSubprotocols[format]]);
      } catch (e) {
        reject(new ConnectError(`cannot open ${url}: ${e instanceof Error ? e.message : String(e)}`, Code.Unavailable));
        return;
      }
      // Browsers deliver binary frames as ArrayBuffer (or Blob); `ws` can hand over its own Buffer
      // without the copy an ArrayBuffer costs. Both arrive as bytes in Link.onMessage.
      socket.binaryType = typeof socket.ping === "function" ? "nodebuffer" : "arraybuffer";
      const fail = (why: string) => {
        cleanup();
        // `ws` reports closing a socket that is still connecting as an 'error' event, which throws
        // (and ends the process) without a listener; this attempt has failed already.
        socket.addEventListener("error", () => {});
        try {
          socket.close();
        } catch {
          // Not open yet: nothing to close.
        }
        reject(new ConnectError(`cannot connect to ${url}: ${why}`, Code.Unavailable));
      };
      const onOpen = () => {
        if (socket.protocol !== wsSubprotocols[format]) {
          fail(`the server did not accept subprotocol ${wsSubprotocols[format]} (got ${JSON.stringify(socket.protocol)})`);
          return;
        }
        cleanup();
        resolve(new Link(socket, this.opts, (dead) => this.onDead(dead)));
      };
      // Browsers hide why a handshake failed (no status, no message): the close code is all there is.
      const onError = (ev: { message?: string }) => fail(ev.message ?? "connection error");
      const onClose = (ev: { code?: number }) => fail(`closed with code ${ev.code ?? "?"}`);
      const timer = setTimeout(() => fail(`no answer within ${connectTimeoutMs} ms`), connectTimeoutMs);
      function cleanup() {
        clearTimeout(timer);
        socket.removeEventListener("open", onOpen);
        socket.removeEventListener("error", onError);
        socket.removeEventListener("close", onClose);
      }
      socket.addEventListener("open", onOpen);
      socket.addEventListener("error", onError);
      socket.addEventListener("close", onClose);
    });
  }

  // A drop is not a failed attempt: the next call reconnects at once (backoff starts if that fails).
  private onDead(link: Link): void {
    if (this.st.state === "open" && this.st.link === link) this.setState({ state: "idle" });
  }
}

function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener("abort", onAbort), resolve(v)),
      (e) => (signal.removeEventListener("abort", onAbort), reject(e)),
    );
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => (signal.removeEventListener("abort", onAbort), resolve()), ms);
    const onAbort = () => (clearTimeout(t), reject(signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
