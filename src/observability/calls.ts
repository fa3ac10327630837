import type { DescMethod } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";

/** grpc-prometheus' names of the four method kinds (the `type` label). */
const typeNames: Record<DescMethod["methodKind"], string> = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
};

/** The `code` label: gRPC's code names as grpc-go spells them ("OK", "InvalidArgument", ...), as grpc-prometheus does. */
export const codeLabels: readonly string[] = Array.from({ length: 17 }, (_, c) => (c === 0 ? "OK" : Code[c]));

/**
 * The counts of one method on one protocol: plain numbers, bumped on every call. prom-client's
 * labelled children hash their labels on every inc() (about 3 µs per call for the three metrics
 * here); these are read only when /metrics is scraped.
 */
export class CallCells {
  started = 0;
  received = 0;
  sent = 0;
  /** Finished calls by gRPC code (index 0 = OK). */
  readonly handled = new Float64Array(17);
  /** Handling times per bucket, not cumulative; the last slot is +Inf. */
  readonly buckets: Float64Array;
  sum = 0;
  /** protocol, service, method and type, in label order. */
  readonly labels: Record<string, string>;

  constructor(
    protocol: string,
    method: DescMethod,
    private readonly bounds: readonly number[],
  ) {
    this.labels = { protocol, service: method.parent.typeName, method: method.name, type: typeNames[method.methodKind] };
    this.buckets = new Float64Array(bounds.length + 1);
  }

  /** Records the end of a call that started at `start` (performance.now()) with a gRPC code. */
  done(code: number, start: number): void {
    const s = (performance.now() - start) / 1000;
    this.handled[code >= 0 && code < 17 ? code : Code.Unknown]++;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && s > b[i]) i++;
    this.buckets[i]++;
    this.sum += s;
  }
}

/** Every CallCells of a server, by protocol then method (two Map lookups per call, no key strings built). */
export class CallTable {
  private readonly byProtocol = new Map<string, Map<DescMethod, CallCells>>();

  constructor(private readonly bounds: readonly number[]) {}

  /** The cells of a method on a protocol, made on first use. */
  cells(protocol: string, method: DescMethod): CallCells {
    let methods = this.byProtocol.get(protocol);
    if (methods === undefined) this.byProtocol.set(protocol, (methods = new Map()));
    let c = methods.get(method);
    if (c === undefined) methods.set(method, (c = new CallCells(protocol, method, this.bounds)));
    return c;
  }

  /** Every cell so far, for the collectors. */
  *all(): Iterable<CallCells> {
    for (const methods of this.byProtocol.values()) yield* methods.values();
  }

  /** The histogram's upper bounds, in seconds. */
  get upperBounds(): readonly number[] {
    return this.bounds;
  }
}
