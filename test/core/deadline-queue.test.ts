import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DeadlineQueue, type DeadlineNode } from "../../src/core/deadline-queue.js";

// A node that records when it expired, in order.
function node(name: string, inMs: number, fired: string[], onFire?: () => void): DeadlineNode {
  return {
    deadline: Date.now() + inMs,
    expire() {
      fired.push(name);
      onFire?.();
    },
    dlPrev: undefined,
    dlNext: undefined,
    dlQueue: undefined,
  };
}

// The queue's timer is unref'd (a deadline alone keeps no process alive): the test keeps the loop up.
async function alive<T>(p: Promise<T>): Promise<T> {
  const keep = setInterval(() => {}, 1000);
  try {
    return await p;
  } finally {
    clearInterval(keep);
  }
}

describe("DeadlineQueue", () => {
  it("expires nodes in deadline order whatever order they were added in, and never the removed ones", async () => {
    const q = new DeadlineQueue();
    const fired: string[] = [];
    let last!: () => void;
    const done = new Promise<void>((r) => (last = r));
    const nodes = [node("c", 60, fired, last), node("a", 20, fired), node("removed", 30, fired), node("b", 40, fired), node("already", -5, fired)];
    for (const n of nodes) q.add(n);
    assert.equal(q.length, 5);
    q.remove(nodes[2]);
    q.remove(nodes[2]); // twice: no effect
    assert.equal(q.length, 4);
    await alive(done);
    assert.deepEqual(fired, ["already", "a", "b", "c"]);
    assert.equal(q.length, 0);
  });

  it("rearms for a node added with an earlier deadline than the armed one", async () => {
    const q = new DeadlineQueue();
    const fired: string[] = [];
    let first!: () => void;
    const done = new Promise<void>((r) => (first = r));
    const late = node("late", 60_000, fired);
    q.add(late);
    q.add(node("soon", 10, fired, first));
    await alive(done);
    assert.deepEqual(fired, ["soon"]);
    q.remove(late);
    assert.equal(q.length, 0);
  });

  it("ends every queued node at once with endAll, and its timer then fires for none", async () => {
    const q = new DeadlineQueue();
    const fired: string[] = [];
    const nodes = [node("x", 20, fired), node("y", 30, fired)];
    for (const n of nodes) q.add(n);
    const ended: DeadlineNode[] = [];
    q.endAll((n) => ended.push(n));
    assert.deepEqual(ended, nodes);
    assert.equal(q.length, 0);
    await alive(new Promise((r) => setTimeout(r, 60)));
    assert.deepEqual(fired, [], "no deadline fired after the nodes were ended");
  });
});
