// The server's V8 heap measured from outside through the inspector protocol (the server runs with
// --inspect=127.0.0.1:0): a full GC, then the heap in use. Retained memory is what a leak is made
// of; RSS alone mixes it with garbage not yet collected and pages V8 has not returned yet.
import { WebSocket } from "ws";

/** A Chrome DevTools Protocol session with one Node process. */
export class Inspector {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Map<string, (params: unknown) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; method?: string; params?: unknown; result?: unknown; error?: { message: string } };
      if (msg.method) return this.listeners.get(msg.method)?.(msg.params);
      const p = msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id!);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result);
    });
    ws.on("close", () => this.pending.forEach((p) => p.reject(new Error("the inspector connection closed"))));
  }

  /** Connects to the "ws://127.0.0.1:PORT/UUID" address that `node --inspect` printed. */
  static async connect(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new Inspector(ws);
  }

  private send<T>(method: string, params: object = {}): Promise<T> {
    const id = ++this.next;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Runs a full garbage collection and returns the bytes of the V8 heap still in use. */
  async heapAfterGc(): Promise<number> {
    await this.send("HeapProfiler.collectGarbage");
    return (await this.send<{ usedSize: number }>("Runtime.getHeapUsage")).usedSize;
  }

  /** A heap snapshot (after a full GC) as its JSON text; large: tens of MB for a heap of 30 MB. */
  async heapSnapshot(): Promise<string> {
    const chunks: string[] = [];
    this.listeners.set("HeapProfiler.addHeapSnapshotChunk", (p) => chunks.push((p as { chunk: string }).chunk));
    try {
      await this.send("HeapProfiler.collectGarbage");
      await this.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    } finally {
      this.listeners.delete("HeapProfiler.addHeapSnapshotChunk");
    }
    return chunks.join("");
  }

  /** Disconnects (a process with a debugger attached would wait for it before exiting). */
  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once("close", () => resolve());
      this.ws.close();
    });
  }
}

/** The inspector address in what `node --inspect` prints to stderr, if it is there yet. */
export function inspectorUrl(stderr: string): string | undefined {
  return /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1];
}
