import type { ConnectError } from "@connectrpc/connect";
import { recordToHeaders, statusError, type InFrame } from "./ws-codec.js";
import type { Link, StreamSink } from "./ws-link.js";

/**
 * The receiving side of one call on a link: response headers from the first server frame, messages
 * queued in arrival order, and exactly one outcome (the final status, a cancel, or the link dying).
 * Messages stay encoded until read, so a slow reader pays for decoding only what it reads.
 */
export class ClientStream implements StreamSink {
  /** Response headers (from the first server frame). */
  header = new Headers();
  /** Response trailers (from the final frame). */
  readonly trailer = new Headers();
  private readonly queue: unknown[] = [];
  private head = 0;
  private outcome: { error: ConnectError | undefined } | undefined;
  private started = false;
  private wake: (() => void) | undefined;
  private readonly firstWaiters: (() => void)[] = [];

  constructor(
    private readonly link: Link,
    readonly id: string,
  ) {
    link.register(id, this);
  }

  /** True once the outcome is known. */
  get finished(): boolean {
    return this.outcome !== undefined;
  }

  frame(f: InFrame): void {
    if (this.outcome) return;
    if (!this.started) {
      this.started = true;
      if (f.headers) this.header = recordToHeaders(f.headers);
      for (const w of this.firstWaiters.splice(0)) w();
    }
    if (f.message !== undefined) this.queue.push(f.message);
    if (f.end) {
      if (f.trailers) for (const [k, v] of Object.entries(f.trailers)) this.trailer.append(k, v);
      this.finish(statusError(f.status, this.header, this.trailer));
      return;
    }
    this.wake?.();
  }

  fail(err: ConnectError): void {
    this.finish(err);
  }

  /** Ends the stream here with `err`; tells the server to cancel when it has not finished. */
  cancel(err: ConnectError): void {
    if (this.outcome) return;
    if (this.link.isAlive) this.link.send({ id: this.id, cancel: true });
    this.finish(err);
  }

  /** Resolves at the first server frame (or the outcome, whichever comes first). */
  firstFrame(): Promise<void> {
    if (this.started || this.outcome) return Promise.resolve();
    return new Promise((resolve) => this.firstWaiters.push(resolve));
  }

  /** Next encoded message, or done; throws the call's error after the messages that preceded it. */
  async next(): Promise<{ done: false; value: unknown } | { done: true; value?: undefined }> {
    for (;;) {
      if (this.head < this.queue.length) {
        const value = this.queue[this.head];
        this.queue[this.head++] = undefined;
        if (this.head > 1024 && this.head * 2 > this.queue.length) this.compact();
        return { done: false, value };
      }
      if (this.outcome) {
        if (this.outcome.error) throw this.outcome.error;
        return { done: true };
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  /** Every message once the outcome is known (unary and client streaming). */
  async all(): Promise<unknown[]> {
    const out: unknown[] = [];
    for (let r = await this.next(); !r.done; r = await this.next()) out.push(r.value);
    return out;
  }

  private finish(error: ConnectError | undefined): void {
    if (this.outcome) return;
    this.outcome = { error };
    this.link.release(this.id);
    for (const w of this.firstWaiters.splice(0)) w();
    this.wake?.();
  }

  private compact(): void {
    this.queue.splice(0, this.head);
    this.head = 0;
  }
}
