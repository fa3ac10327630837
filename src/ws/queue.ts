/**
 * The requests of one client-streaming or bidi stream, as the AsyncIterable the implementation reads.
 * Frames push into it as they arrive; it never blocks the connection (the session bounds `size`).
 */
export class InputQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private state: { s: "open" } | { s: "ended" } | { s: "failed"; error: unknown } = { s: "open" };
  private waiter?: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void };

  /** Requests waiting to be read. */
  get size(): number {
    return this.items.length;
  }

  /** True once end() or fail() was called. */
  get closed(): boolean {
    return this.state.s !== "open";
  }

  /** Adds one request; ignored after end() or fail(). */
  push(item: T): void {
    if (this.state.s !== "open") return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: item, done: false });
    } else this.items.push(item);
  }

  /** The client half-closed: the reader sees the end after the queued requests. */
  end(): void {
    if (this.state.s !== "open") return;
    this.state = { s: "ended" };
    this.wake();
  }

  /** The stream failed: the reader's next read throws `error` (queued requests are dropped). */
  fail(error: unknown): void {
    if (this.state.s === "failed") return;
    this.state = { s: "failed", error };
    this.items = [];
    this.wake();
  }

  private wake(): void {
    if (!this.waiter || this.items.length > 0) return;
    const w = this.waiter;
    this.waiter = undefined;
    if (this.state.s === "failed") w.reject(this.state.error);
    else w.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.state.s === "failed") return Promise.reject(this.state.error);
        if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
        if (this.state.s === "ended") return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
      },
      return: () => {
        // The implementation stopped reading: later requests are dropped.
        if (this.state.s === "open") this.state = { s: "ended" };
        this.items = [];
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
