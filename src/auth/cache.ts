import { createHash } from "node:crypto";
import type { Principal } from "./principal.js";

/**
 * Remembers verified tokens for a while, so that a WebSocket connection or a client making many
 * calls pays the signature check once, not per call. Entries never outlive the token's `exp`.
 * Keyed by digest: the tokens themselves are not kept. Oldest entries go first when full.
 */
export class TokenCache {
  private readonly map = new Map<string, { p: Principal; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  /** The Principal of a token verified recently, if it is still valid. */
  get(token: string): Principal | undefined {
    if (this.ttlMs === 0 || this.max === 0) return undefined;
    const k = digest(token);
    const e = this.map.get(k);
    if (e === undefined) return undefined;
    if (Date.now() >= e.until) {
      this.map.delete(k);
      return undefined;
    }
    return e.p;
  }

  /** Remembers a verified token. */
  set(token: string, p: Principal): void {
    if (this.ttlMs === 0 || this.max === 0) return;
    let until = Date.now() + this.ttlMs;
    const exp = p.claims.exp;
    if (typeof exp === "number") until = Math.min(until, exp * 1000);
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    this.map.set(digest(token), { p, until });
  }

  /** Entries held right now (for tests). */
  get size(): number {
    return this.map.size;
  }
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("base64");
}
