// Counts every call of the soak by protocol: what succeeded, which injected errors came back as
// expected, and every unexpected outcome with enough detail to find it.
import { Code, ConnectError } from "@connectrpc/connect";
import { knownDefect, type KnownDefect } from "./known-defects.js";

/** One call whose outcome was not the one the scenario expected. */
export interface Unexpected {
  /** Seconds since the start of the run. */
  t: number;
  protocol: string;
  /** "pkg.Service/Method" or what the scenario did ("ws bad frame", "GET /v1/...") */
  method: string;
  expected: string;
  got: string;
  message: string;
}

/** Per-protocol counts. */
export interface ProtocolCounts {
  calls: number;
  ok: number;
  /** Injected errors (and client cancellations) that ended with the expected code. */
  expectedErrors: number;
  unexpected: number;
  /** Outcomes of a known, still open defect (see known-defects.ts). */
  knownDefects: number;
}

/** The name of a code as in the Connect protocol ("invalid_argument"), "ok" for success. */
export const codeName = (code: Code | undefined): string => (code === undefined ? "ok" : Code[code].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase()));

/** Keeps at most this many unexpected outcomes in detail; the rest are only counted. */
const KEEP = 200;

/** The soak's call ledger. */
export class Tally {
  readonly byProtocol = new Map<string, ProtocolCounts>();
  readonly unexpected: Unexpected[] = [];
  unexpectedTotal = 0;
  /** Outcomes that match a known, still open defect (not failures unless strict), with their count. */
  readonly known = new Map<KnownDefect, number>();
  /** Calls made per protocol and method, so that a fixed known defect can be told from an untried one. */
  readonly tried = new Map<string, number>();
  private readonly start = performance.now();

  /** `strict`: known defects fail the run like any other unexpected outcome. */
  constructor(private readonly strict = false) {}

  /** Records the outcome of one call: `expected` undefined means success was expected. */
  record(protocol: string, method: string, expected: Code | undefined, got: Code | undefined, message = ""): void {
    const c = this.counts(protocol);
    c.calls++;
    const key = `${protocol} ${method}`;
    this.tried.set(key, (this.tried.get(key) ?? 0) + 1);
    if (got === expected) {
      if (got === undefined) c.ok++;
      else c.expectedErrors++;
      return;
    }
    this.fail(protocol, method, codeName(expected), codeName(got), message);
  }

  /** Records a failure that is not a call outcome (a wrong payload, a lost message, a broken stream). */
  fail(protocol: string, method: string, expected: string, got: string, message: string): void {
    const defect = this.strict ? undefined : knownDefect(protocol, method, expected, got);
    if (defect) {
      this.known.set(defect, (this.known.get(defect) ?? 0) + 1);
      this.counts(protocol).knownDefects++;
      return;
    }
    this.counts(protocol).unexpected++;
    this.unexpectedTotal++;
    const u = { t: Math.round((performance.now() - this.start) / 100) / 10, protocol, method, expected, got, message: message.slice(0, 300) };
    if (this.unexpected.length < KEEP) this.unexpected.push(u);
    // Printed as it happens: a soak is watched, and the first failure is often the telling one.
    if (this.unexpectedTotal <= 20) console.error(`UNEXPECTED [${u.t}s] ${protocol} ${method}: expected ${expected}, got ${got}${message ? `: ${u.message}` : ""}`);
  }

  /** The slowest call since the last takeSlowest(): a loaded machine shows here before it fails calls. */
  private slowest?: { ms: number; what: string };

  /** Returns and resets the slowest call of the period. */
  takeSlowest(): { ms: number; what: string } | undefined {
    const s = this.slowest;
    this.slowest = undefined;
    return s;
  }

  /** Runs a call and records it: `expected` is the code it must end with (undefined: success). */
  async call<T>(protocol: string, method: string, expected: Code | undefined, run: () => Promise<T>, check?: (v: T) => string | undefined): Promise<void> {
    let v: T;
    const start = performance.now();
    const timed = () => {
      const ms = performance.now() - start;
      if (!this.slowest || ms > this.slowest.ms) this.slowest = { ms, what: `${protocol} ${method}` };
    };
    try {
      v = await run();
      timed();
    } catch (e) {
      timed();
      const err = ConnectError.from(e);
      this.record(protocol, method, expected, err.code, err.rawMessage + causes(e));
      return;
    }
    const wrong = expected === undefined ? check?.(v) : undefined;
    if (wrong !== undefined) this.fail(protocol, method, "ok", "wrong response", wrong);
    else this.record(protocol, method, expected, undefined);
  }

  /** Total calls over all protocols. */
  get calls(): number {
    let n = 0;
    for (const c of this.byProtocol.values()) n += c.calls;
    return n;
  }

  private counts(protocol: string): ProtocolCounts {
    let c = this.byProtocol.get(protocol);
    if (!c) this.byProtocol.set(protocol, (c = { calls: 0, ok: 0, expectedErrors: 0, unexpected: 0, knownDefects: 0 }));
    return c;
  }
}

/** The chain of causes of a client-side error (e.g. fetch's "fetch failed" <- "other side closed" <- ECONNRESET). */
function causes(e: unknown): string {
  let out = "";
  for (let c = (e as { cause?: unknown })?.cause, depth = 0; c && depth < 4; c = (c as { cause?: unknown }).cause, depth++) {
    const { code, message } = c as { code?: string; message?: string };
    out += ` <- ${[code, message].filter(Boolean).join(" ")}`;
  }
  return out;
}
