import { Code, ConnectError } from "@connectrpc/connect";

type State<T> =
  | { kind: "open"; items: T[]; wake?: () => void }
  | { kind: "ended"; items: T[] }
  | { kind: "failed"; items: T[]; error: ConnectError };

/**
 * A bounded queue between a push source (a broker listener) and one async reader (a stream).
 * Pushing more than `max` unread items fails the queue with RESOURCE_EXHAUSTED instead of
 * growing: a reader too slow to keep up is dropped, it does not make the process run out of memory.
 * An abort signal (the client went away) ends the reader at once.
 */
export class BoundedQueue<T> implements AsyncIterable<T> {
  private state: State<T> = { kind: "open", items: [] };
  private readonly onAbort = () => this.fail(ConnectError.from(this.signal?.reason ?? "aborted", Code.Canceled));

  constructor(
    private readonly max: number,
    private readonly overflowMessage: string,
    private readonly signal?: AbortSignal,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`queue size must be a positive integer, got ${String(max)}`);
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** Number of items waiting to be read. */
  get size(): number {
    return this.state.items.length;
  }

  /** True until end() or fail() (or an overflow or abort). */
  get open(): boolean {
    return this.state.kind === "open";
  }

  /** Queues an item; on overflow fails the queue and returns false. Ignored once closed. */
  push(item: T): boolean {
    const s = this.state;
    if (s.kind !== "open") return false;
    if (s.items.length >= this.max) {
      this.fail(new ConnectError(this.overflowMessage, Code.ResourceExhausted));
      return false;
    }
    s.items.push(item);
    s.wake?.();
    return true;
  }

  /** Ends the queue normally: the reader gets the items still queued, then done. */
  end(): void {
    const s = this.state;
    if (s.kind !== "open") return;
    this.setState({ kind: "ended", items: s.items }, s.wake);
  }

  /** Fails the queue: the reader gets the error next, before any item still queued. */
  fail(error: ConnectError): void {
    const s = this.state;
    if (s.kind !== "open") return;
    // Queued items are dropped: after an overflow or a cancel nobody wants them any more.
    this.setState({ kind: "failed", items: [], error }, s.wake);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      for (;;) {
        const s = this.state;
        if (s.items.length > 0) {
          yield s.items.shift() as T;
          continue;
        }
        if (s.kind === "failed") throw s.error;
        if (s.kind === "ended") return;
        await new Promise<void>((resolve) => (s.wake = resolve));
        if (this.state === s) s.wake = undefined;
      }
    } finally {
      this.end();
    }
  }

  private setState(next: State<T>, wake?: () => void): void {
    this.state = next;
    this.signal?.removeEventListener("abort", this.onAbort);
    wake?.();
  }
}
