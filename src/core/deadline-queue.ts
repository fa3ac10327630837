/** A call waiting for its deadline: a node of a DeadlineQueue (the fields are the queue's own). */
export interface DeadlineNode {
  /** When the call's deadline passes (Date.now() milliseconds). */
  readonly deadline: number | undefined;
  /** Called once when the deadline passed while the node was queued. */
  expire(): void;
  dlPrev: DeadlineNode | undefined;
  dlNext: DeadlineNode | undefined;
  dlQueue: DeadlineQueue | undefined;
}

/**
 * The deadline timers of many calls that share one timeout (the server's unaryTimeoutMs, or one
 * a client sends often), as ONE Node timer over a list ordered by deadline. A call joins and
 * leaves the list without allocating (the call is the list node), where a setTimeout per call
 * costs a Timeout object and list work in Node's timers (about a sixth of the Pipeline's own CPU per
 * unary call, measured). The timer runs at the first deadline; calls that ended before it simply
 * left the list, so it then rearms for the new first one. It is unref'd: a pending deadline never
 * keeps the process alive by itself (the call's connection does).
 */
export class DeadlineQueue {
  private head: DeadlineNode | undefined;
  private tail: DeadlineNode | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private size = 0;

  /** Queues a call (with a deadline). Deadlines arrive nearly in order: the walk from the tail is short. */
  add(n: DeadlineNode): void {
    const d = n.deadline!;
    let after = this.tail;
    while (after !== undefined && after.deadline! > d) after = after.dlPrev;
    n.dlQueue = this;
    n.dlPrev = after;
    n.dlNext = after === undefined ? this.head : after.dlNext;
    if (n.dlNext !== undefined) n.dlNext.dlPrev = n;
    else this.tail = n;
    if (after !== undefined) after.dlNext = n;
    else this.head = n;
    this.size++;
    if (this.timer === undefined || d < this.timerAt) this.arm(d);
  }

  /** Takes a call off the list (it ended); its slot is reused by nothing, so this is all it costs. */
  remove(n: DeadlineNode): void {
    if (n.dlQueue !== this) return;
    const p = n.dlPrev;
    const x = n.dlNext;
    if (p !== undefined) p.dlNext = x;
    else this.head = x;
    if (x !== undefined) x.dlPrev = p;
    else this.tail = p;
    n.dlPrev = n.dlNext = n.dlQueue = undefined;
    this.size--;
  }

  /** Takes every call off the list and gives each to `end` (shutdown: they end now, not at their deadline). */
  endAll(end: (n: DeadlineNode) => void): void {
    for (let n = this.head; n !== undefined; n = this.head) {
      this.remove(n);
      end(n);
    }
  }

  /** Calls queued (for tests and metrics). */
  get length(): number {
    return this.size;
  }

  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(fire, Math.max(0, at - Date.now()), this);
    this.timer.unref();
  }

  /** The timer: expires every call whose deadline passed, then rearms for the next one. */
  fire(): void {
    this.timer = undefined;
    const now = Date.now();
    for (let n = this.head; n !== undefined && n.deadline! <= now; n = this.head) {
      this.remove(n);
      n.expire();
    }
    if (this.head !== undefined) this.arm(this.head.deadline!);
  }
}

// The queue's timer callback (a module function: no closure per queue arming).
function fire(q: DeadlineQueue): void {
  q.fire();
}
