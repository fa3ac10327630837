import type { IncomingHttpHeaders } from "node:http2";

/**
 * A fetch Headers over Node's request header object that copies nothing until it must: get() and
 * has() read the Node object directly (most interceptors only ever call get), while the first
 * mutation or iteration fills the real Headers and hands over to it. HTTP/2 pseudo-headers are
 * not request headers and are never shown.
 */
export class NodeHeaders extends Headers {
  private raw: IncomingHttpHeaders | undefined;

  constructor(raw: IncomingHttpHeaders) {
    super();
    this.raw = raw;
  }

  // Copies the Node headers into the real Headers once; from then on the parent class serves all.
  private fill(): void {
    const raw = this.raw;
    if (raw === undefined) return;
    this.raw = undefined;
    for (const k in raw) {
      if (k.charCodeAt(0) === 58 /* ":" */) continue;
      const v = raw[k];
      if (typeof v === "string") super.append(k, v);
      else if (v !== undefined) for (const e of v) super.append(k, e);
    }
  }

  override get(name: string): string | null {
    const raw = this.raw;
    if (raw === undefined) return super.get(name);
    const k = name.toLowerCase();
    if (k.charCodeAt(0) === 58) return super.get(name); // let Headers reject the invalid name
    const v = raw[k];
    if (v === undefined) return null;
    return typeof v === "string" ? v : v.join(", ");
  }

  override has(name: string): boolean {
    return this.get(name) !== null;
  }

  override set(name: string, value: string): void {
    this.fill();
    super.set(name, value);
  }

  override append(name: string, value: string): void {
    this.fill();
    super.append(name, value);
  }

  override delete(name: string): void {
    this.fill();
    super.delete(name);
  }

  override getSetCookie(): string[] {
    this.fill();
    return super.getSetCookie();
  }

  override forEach(cb: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    this.fill();
    super.forEach(cb, thisArg);
  }

  override keys(): HeadersIterator<string> {
    this.fill();
    return super.keys();
  }

  override values(): HeadersIterator<string> {
    this.fill();
    return super.values();
  }

  override entries(): HeadersIterator<[string, string]> {
    this.fill();
    return super.entries();
  }

  override [Symbol.iterator](): HeadersIterator<[string, string]> {
    this.fill();
    return super[Symbol.iterator]();
  }
}
