// A small client of oneport's WebSocket bridge (/ws, subprotocol oneport.json.v1), as documented
// in proto/oneport/ws/v1/frame.proto: many streams on one socket, each with a client-chosen id,
// each ending with exactly one frame that has `end: true` and a `status`.

/** An error from a stream's final status frame; `code` is the Connect code name ("unauthenticated", ...). */
export class StreamError extends Error {
  constructor(code, message) {
    super(message ? `${code}: ${message}` : code);
    this.code = code;
  }
}

/** One WebSocket to the bridge, opened on first use and again after it closed. */
export class WsClient {
  /** @param {string} url ws:// or wss:// URL of the bridge. @param {(state: string) => void} onState */
  constructor(url, onState = () => {}) {
    this.url = url;
    this.onState = onState;
    this.streams = new Map();
    this.nextId = 0;
    this.socket = null;
  }

  /** Resolves with an open socket. */
  open() {
    if (this.socket) return this.socket;
    this.onState("connecting");
    this.socket = new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, "oneport.json.v1");
      ws.onopen = () => {
        this.onState("open");
        resolve(ws);
      };
      ws.onmessage = (e) => this.dispatch(e.data);
      ws.onclose = (e) => {
        this.socket = null;
        this.onState(`closed (${e.code})`);
        reject(new StreamError("unavailable", "could not open the WebSocket"));
        // Every stream of this socket is over: tell each once.
        for (const on of this.streams.values()) on({ end: true, status: { code: "unavailable", message: "the WebSocket closed" } });
        this.streams.clear();
      };
    });
    return this.socket;
  }

  /** A unary call: resolves with the response message, rejects with a StreamError. */
  unary(method, message, headers = {}) {
    return new Promise((resolve, reject) => {
      let response;
      this.start(method, message, headers, (frame) => {
        if (frame.message !== undefined) response = frame.message;
        if (!frame.end) return;
        if (frame.status?.code === "ok") resolve(response);
        else reject(new StreamError(frame.status?.code ?? "unknown", frame.status?.message));
      }).catch(reject);
    });
  }

  /**
   * A server-streaming call: onMessage gets each response; `done` settles with the final status
   * (rejects with a StreamError unless "ok"); cancel() ends the stream.
   */
  serverStream(method, message, headers, onMessage) {
    let cancel = () => {};
    const done = new Promise((resolve, reject) => {
      this.start(method, message, headers, (frame) => {
        if (frame.message !== undefined) onMessage(frame.message);
        if (!frame.end) return;
        if (frame.status?.code === "ok" || frame.status?.code === "canceled") resolve(frame.status.code);
        else reject(new StreamError(frame.status?.code ?? "unknown", frame.status?.message));
      }).then((id) => {
        cancel = () => this.send({ id, cancel: true });
      }, reject);
    });
    return { done, cancel: () => cancel() };
  }

  async start(method, message, headers, onFrame) {
    const ws = await this.open();
    const id = `s${++this.nextId}`;
    this.streams.set(id, onFrame);
    ws.send(JSON.stringify({ id, method, headers, message }));
    return id;
  }

  async send(frame) {
    (await this.open()).send(JSON.stringify(frame));
  }

  dispatch(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame.id) {
      // A connection-level error frame: the server could not attribute our frame to a stream.
      console.warn("oneport /ws:", frame.status);
      return;
    }
    const on = this.streams.get(frame.id);
    if (!on) return;
    if (frame.end) this.streams.delete(frame.id);
    on(frame);
  }
}
