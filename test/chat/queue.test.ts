import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { BoundedQueue } from "../../src/pubsub/queue.js";

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail("expected an error"),
    (e: unknown) => ConnectError.from(e).code,
  );

describe("BoundedQueue", () => {
  it("hands pushed items to the reader in order, queued or awaited", async () => {
    const q = new BoundedQueue<number>(10, "full");
    q.push(1);
    q.push(2);
    assert.deepEqual(await q.next(), { value: 1, done: false });
    assert.deepEqual(await q.next(), { value: 2, done: false });
    const pending = q.next();
    q.push(3); // straight to the waiting reader
    assert.deepEqual(await pending, { value: 3, done: false });
    assert.equal(q.size, 0);
  });

  it("fails with RESOURCE_EXHAUSTED and drops the backlog when more than max items wait", async () => {
    const q = new BoundedQueue<number>(2, "too slow");
    assert.equal(q.push(1), true);
    assert.equal(q.push(2), true);
    assert.equal(q.push(3), false);
    assert.equal(q.open, false);
    assert.equal(q.push(4), false, "closed queues take nothing");
    const err = await q.next().catch((e: unknown) => ConnectError.from(e));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.ResourceExhausted);
    assert.equal(err.rawMessage, "too slow");
    assert.deepEqual(await q.next(), { value: undefined, done: true }, "the error is reported once");
  });

  it("delivers what is queued before ending normally", async () => {
    const q = new BoundedQueue<string>(10, "full");
    q.push("a");
    q.end();
    const got: string[] = [];
    for await (const x of q) got.push(x);
    assert.deepEqual(got, ["a"]);
  });

  it("ends a waiting reader at once on end() and fail()", async () => {
    const a = new BoundedQueue<string>(10, "full");
    const waiting = a.next();
    a.end();
    assert.deepEqual(await waiting, { value: undefined, done: true });
    const b = new BoundedQueue<string>(10, "full");
    const failing = b.next();
    b.fail(new ConnectError("bye", Code.Unavailable));
    assert.equal(await codeOf(failing), Code.Unavailable);
  });

  it("fails with CANCELED when the signal aborts, even before the first read", async () => {
    const ac = new AbortController();
    const q = new BoundedQueue<number>(10, "full", ac.signal);
    const waiting = q.next();
    ac.abort();
    assert.equal(await codeOf(waiting), Code.Canceled);
    const pre = new AbortController();
    pre.abort();
    assert.equal(await codeOf(new BoundedQueue<number>(10, "full", pre.signal).next()), Code.Canceled);
  });

  it("calls onDone exactly once, whichever way the reader finishes", async () => {
    for (const finish of [
      async (q: BoundedQueue<number>) => {
        q.end();
        await q.next();
      },
      async (q: BoundedQueue<number>) => {
        q.fail(new ConnectError("x", Code.Internal));
        await q.next().catch(() => undefined);
      },
      async (q: BoundedQueue<number>) => {
        const pending = q.next();
        await q.return();
        assert.deepEqual(await pending, { value: undefined, done: true });
      },
    ]) {
      const q = new BoundedQueue<number>(10, "full");
      let calls = 0;
      q.onDone = () => calls++;
      await finish(q);
      await q.return();
      await q.next();
      assert.equal(calls, 1);
    }
  });

  it("refuses a second concurrent reader", async () => {
    const q = new BoundedQueue<number>(10, "full");
    const first = q.next();
    await assert.rejects(q.next(), /one reader/);
    q.push(1);
    assert.deepEqual(await first, { value: 1, done: false });
  });

  it("rejects a size that is not a positive integer", () => {
    assert.throws(() => new BoundedQueue(0, "x"), /positive integer/);
  });
});
