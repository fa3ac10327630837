import { Code, ConnectError } from "@connectrpc/connect";

interface Waiter<T> {
  resolve(r: IteratorResult<T>): void;
  reject(e: unknown): void;
}

type State<T> =
  | { kind: "open"; items: T[]; waiter?: Waiter<T> }
  | { kind: "ended"; items: T[] }
  | { kind: "failed"; error: ConnectError }
  | { kind: "done" };

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * A bounded queue between a push source (a broker listener) and one async reader (a stream).
 * Pushing more than `max` unread items fails the queue with RESOURCE_EXHAUSTED instead of
 * growing: a reader too slow to keep up is dropped, it does not make the process run out of memory.
 * An abort signal (the client went away) ends the reader at once.
 *
 * A hand-written iterator rather than an async generator: fan-out pays this per subscriber and
 * per message, and a push straight into a waiting reader costs one promise resolution.
 */
export class BoundedQueue<T> implements AsyncIterableIterator<T> {
  private state: State<T> = { kind: "open", items: [] };
  /** Called once when the reader is done (drained, failed, returned or aborted). */
  onDone?: () => void;
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
    const s = this.state;
    return s.kind === "open" || s.kind === "ended" ? s.items.length : 0;
  }

  /** True until end() or fail() (or an overflow or abort). */
  get open(): boolean {
    return this.state.kind === "open";
  }

  /** Queues an item (or hands it to the waiting reader); on overflow fails the queue and returns false. */
  push(item: T): boolean {
    const s = this.state;
    if (s.kind !== "open") return false;
    if (s.waiter) {
      const w = s.waiter;
      s.waiter = undefined;
      w.resolve({ value: item, done: false });
      return true;
    }
    if (s.items.length >= this.max) {
      this.fail(new ConnectError(this.overflowMessage, Code.ResourceExhausted));
      return false;
    }
    s.items.push(item);
    return true;
  }

  /** Ends the queue normally: the reader gets the items still queued, then done. */
  end(): void {
    const s = this.state;
    if (s.kind !== "open") return;
    if (s.waiter) {
      // A waiting reader means nothing is queued.
      s.waiter.resolve(DONE);
      this.finish();
    } else {
      this.state = { kind: "ended", items: s.items };
      this.stopListening();
    }
  }

  /** Fails the queue: the reader gets the error next; items still queued are dropped (nobody wants them any more). */
  fail(error: ConnectError): void {
    const s = this.state;
    if (s.kind !== "open") return;
    if (s.waiter) {
      s.waiter.reject(error);
      this.finish();
    } else {
      this.state = { kind: "failed", error };
      this.stopListening();
    }
  }

  next(): Promise<IteratorResult<T>> {
    const s = this.state;
    switch (s.kind) {
      case "open":
        if (s.items.length > 0) return Promise.resolve({ value: s.items.shift() as T, done: false });
        if (s.waiter) return Promise.reject(new Error("BoundedQueue has one reader: next() called while a previous next() is pending"));
        return new Promise((resolve, reject) => (s.waiter = { resolve, reject }));
      case "ended":
        if (s.items.length > 0) return Promise.resolve({ value: s.items.shift() as T, done: false });
        this.finish();
        return Promise.resolve(DONE);
      case "failed":
        this.finish();
        return Promise.reject(s.error);
      case "done":
        return Promise.resolve(DONE);
    }
  }

  /** The reader stops early: drops what is queued and finishes. */
  return(): Promise<IteratorResult<T>> {
    const s = this.state;
    if (s.kind === "open") s.waiter?.resolve(DONE);
    this.finish();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish(): void {
    if (this.state.kind === "done") return;
    this.state = { kind: "done" };
    this.stopListening();
    this.onDone?.();
  }

  private stopListening(): void {
    this.signal?.removeEventListener("abort", this.onAbort);
  }
}
