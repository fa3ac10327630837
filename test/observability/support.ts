// Helpers of the metrics tests: deltas between two scrapes, and waiting for a metric to reach a value.
import { scrape, valueOf, type Scrape } from "./prom.js";

/** Reads a metric's change between two scrapes. */
export type Delta = (name: string, labels?: Record<string, string>) => number;

/** Scrapes, runs `fn`, scrapes again; returns the changes. */
export async function measure(baseUrl: string, fn: () => Promise<unknown>, init: RequestInit = {}): Promise<Delta> {
  const before = await scrape(baseUrl, init);
  await fn();
  const after = await scrape(baseUrl, init);
  return (name, labels = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);
}

/**
 * Scrapes until `pred` holds (for what the server records after the client has seen the end, such
 * as a connection's close). No deadline of its own: the test's timeout bounds it.
 */
export async function scrapeUntil(baseUrl: string, pred: (s: Scrape) => boolean, init: RequestInit = {}): Promise<Scrape> {
  for (;;) {
    const s = await scrape(baseUrl, init);
    if (pred(s)) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The labels of an ExampleService method on a protocol. */
export const example = (protocol: string, method: string, extra: Record<string, string> = {}) => ({ protocol, service: "example.ExampleService", method, ...extra });
