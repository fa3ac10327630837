// Server defects the soak found that are not fixed yet (they are in files other engineers own).
// An outcome that matches one is counted and printed as a known defect instead of failing the run,
// so that the soak keeps catching new regressions meanwhile; SOAK_STRICT=1 fails on them too.
// When a fix lands, the soak says so ("no longer seen"): delete the entry then.

/** One open defect: which outcome it produces and where it comes from. */
export interface KnownDefect {
  protocol: string;
  method: string;
  expected: string;
  got: string;
  /** File and line of the cause, and why. */
  cause: string;
}

/** The defects open at the time of writing (see docs/soak.md). */
export const KNOWN_DEFECTS: KnownDefect[] = [
  // None open: grpc-js UNIMPLEMENTED for unknown methods (src/rpc/unknown.ts) and the JSON /ws receive
  // limit (src/ws/message.ts) were fixed after the soak found them.
];

/** A known defect that shows as an error line in the server's log. */
export interface KnownLogDefect {
  /** Matches the raw JSON log line. */
  line: RegExp;
  cause: string;
}

/** Error log lines of open defects. */
export const KNOWN_LOG_DEFECTS: KnownLogDefect[] = [
  // None open: a request stream closed early by the client (ERR_STREAM_PREMATURE_CLOSE) is now
  // CANCELED at debug level (src/core/errors.ts).
];

/** The known defect a server log line belongs to, if any. */
export function knownLogDefect(line: string): KnownLogDefect | undefined {
  return KNOWN_LOG_DEFECTS.find((d) => d.line.test(line));
}

/** The known defect an outcome matches, if any. */
export function knownDefect(protocol: string, method: string, expected: string, got: string): KnownDefect | undefined {
  return KNOWN_DEFECTS.find((d) => d.protocol === protocol && d.method === method && d.expected === expected && d.got === got);
}
