import * as http2 from "node:http2";
import type { Logger } from "pino";

/** A token bucket: `burst` events at once, `ratePerSecond` on average after that. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token; false when the bucket is empty (the event is over the rate). */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** What the guard knows of one session, for the stream dispatch decisions below. */
interface SessionState {
  /** Over its flood budget: closing on the next turn of the event loop. */
  flooding: boolean;
  /** Client resets seen, and when the last one came. */
  resets: number;
  lastReset: number;
  /** Streams opened since the last turn of the event loop. */
  turnStreams: number;
  /** Streams dropped (flooding) or skipped (reset while held) without a handler (logged when the session closes). */
  dropped: number;
  skipped: number;
}

const states = new WeakMap<http2.Http2Session, SessionState>();
/** Streams held back a loop turn whose handler has not run yet (see admitStream). */
const held = new WeakSet<http2.Http2Stream>();
const ignore = () => {};

/** After this many client resets, the last one under a second ago, a session's new streams are dispatched a loop turn late. */
const DEFER_AFTER_RESETS = 8;

// How long a connection ended for a flood stays open (not read) after its GOAWAY, so the client can
// read the reason before the reset that closing a socket with unread data sends.
const FLOOD_CLOSE_GRACE_MS = 100;

/**
 * Runs `run` for a new stream unless the guard says otherwise. Streams of a session over its flood
 * budget (closed on the next turn of the event loop) are dropped (see drop). On a session that has
 * been resetting streams (rapid reset,
 * CVE-2023-44487), a new stream waits one turn of the event loop: nghttp2 parses a whole socket read
 * at once, so a HEADERS and the RST_STREAM right after it are both seen by then, and a stream reset
 * before its handler ran costs no handler at all. Such "rapid resets" also have their own, smaller
 * budget (http2RapidResetBurst; Go's net/http and grpc-go count them too): a legitimate client may
 * cancel many calls at once, but not calls the server has not even started. Other sessions' streams
 * run at once, as before.
 */
export function admitStream<H, R>(stream: http2.ServerHttp2Stream, headers: H, rest: R, run: (stream: http2.ServerHttp2Stream, headers: H, rest: R) => void): void {
  const st = states.get(stream.session!);
  if (st === undefined) return run(stream, headers, rest);
  if (st.flooding) return drop(stream, st);
  if (st.resets < DEFER_AFTER_RESETS || performance.now() - st.lastReset > 1000) return run(stream, headers, rest);
  held.add(stream);
  // No handler listens yet: a session destroyed meanwhile errors its streams (ERR_HTTP2_STREAM_CANCEL).
  stream.on("error", ignore);
  setImmediate(() => {
    held.delete(stream);
    if (stream.closed || stream.destroyed) {
      st.skipped++;
      return;
    }
    if (st.flooding) return drop(stream, st);
    // A request without a body (END_STREAM on its HEADERS) can have its readable side ended while
    // held, before the handler listens: its 'end' listeners would wait forever (found by the soak:
    // empty Connect unary requests on a session that had cancelled streams hung). They get it now.
    if (!stream.readableEnded) return run(stream, headers, rest);
    const before = new Set(stream.rawListeners("end"));
    run(stream, headers, rest);
    for (const l of stream.rawListeners("end")) if (!before.has(l)) (l as () => void).call(stream);
  });
}

// A flooding session's stream gets no handler and no frame of its own: the GOAWAY already sent names
// the last stream that was processed, so the client knows this one was not (RFC 9113 §6.8), and
// the session is destroyed on the next turn, which ends the stream with it. A RST_STREAM per stream
// (and the error Node makes for each) would cost more than the attacker's frame.
function drop(stream: http2.ServerHttp2Stream, st: SessionState): void {
  st.dropped++;
  stream.on("error", ignore); // the session's destroy errors its streams (ERR_HTTP2_STREAM_CANCEL)
}

/** The limits one HTTP/2 session is held to (a subset of Limits). */
export interface SessionLimits {
  /** The first request's headers must be complete this long after the session starts. */
  headersTimeoutMs: number;
  /** A session without open streams for this long is closed with GOAWAY (0 = never). */
  idleTimeoutMs: number;
  /** PING, SETTINGS and client stream resets allowed per second on average (0 = no limit). */
  http2ControlFrameRate: number;
  /** How many of those may arrive at once before the rate applies. */
  http2ControlFrameBurst: number;
  /** How many streams the client may reset before their handler ran, at once (same rate; capped at the burst above). */
  http2RapidResetBurst: number;
  /** Streams a client may have open at once; with http2ControlFrameBurst, the new streams it may open per turn of the event loop. */
  maxConcurrentStreams: number;
  /** Node's maxSessionMemory, in MiB: a session retires before Node's accounting of reset streams' unsent data reaches half of it. */
  http2MaxSessionMemoryMb: number;
}

/**
 * Holds one server session to its limits: slowloris (a preface or a partial HEADERS and then
 * silence), idleness counted by open streams (PINGs do not keep an unused connection open, unlike
 * Node's activity timeout), and floods of cheap frames that cost the server work (CVE-2023-44487
 * rapid reset, CVE-2019-9512 ping and CVE-2019-9515 settings floods), answered like nghttp2 and
 * grpc-go do: GOAWAY(ENHANCE_YOUR_CALM) and the connection closes.
 */
/** Why the guard ended a connection: a flood (GOAWAY(ENHANCE_YOUR_CALM)), or retired for reset streams' unsent data (graceful GOAWAY). */
export type GuardEnd = "flood" | "unsent_data";

export function guardSession(
  session: http2.ServerHttp2Session,
  limits: SessionLimits,
  logger: Logger,
  onAbuse?: (session: http2.ServerHttp2Session) => void,
  onEnd?: (reason: GuardEnd) => void,
): void {
  const st: SessionState = { flooding: false, resets: 0, lastReset: 0, turnStreams: 0, dropped: 0, skipped: 0 };
  states.set(session, st);
  let open = 0;
  let idle: NodeJS.Timeout | undefined;
  let handshake: NodeJS.Timeout | undefined = setTimeout(() => {
    logger.debug({ timeoutMs: limits.headersTimeoutMs }, "http2 connection sent no complete request headers in time; closing");
    session.destroy();
  }, limits.headersTimeoutMs);
  handshake.unref();

  const rate = limits.http2ControlFrameRate;
  const bucket = rate > 0 ? new TokenBucket(rate, limits.http2ControlFrameBurst) : undefined;
  const rapidBurst = Math.min(limits.http2RapidResetBurst, limits.http2ControlFrameBurst);
  const rapid = rate > 0 ? new TokenBucket(rate, rapidBurst) : undefined;
  // The per-turn stream cap as a budget that is always empty once passed (off with the rate, too).
  const always = rate > 0 ? { take: () => false } : undefined;
  const perTurn = limits.maxConcurrentStreams + limits.http2ControlFrameBurst;
  const charge = (what: string, from: { take(): boolean } | undefined = bucket) => {
    if (!from || st.flooding || from.take() || session.destroyed) return;
    st.flooding = true;
    const burst = from === rapid ? rapidBurst : from === always ? perTurn : limits.http2ControlFrameBurst;
    logger.warn({ frame: what, rate, burst, address: session.socket?.remoteAddress }, "http2 flood: closing the connection with ENHANCE_YOUR_CALM");
    // GOAWAY now: submitting a frame from inside nghttp2's frame callbacks is safe (destroying the
    // session is not, below). It is the first GOAWAY the client gets, so it names the reason even
    // when nghttp2's own flood check then ends the session with INTERNAL_ERROR (it does when one
    // read carries over 1000 PINGs or SETTINGS, whose acknowledgements cannot be sent mid-read).
    try {
      session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      // nghttp2 refuses streams past a submitted SETTINGS_MAX_CONCURRENT_STREAMS even before it is
      // acknowledged: with 0, the rest of the flood in this read is refused inside nghttp2, with no
      // JavaScript stream object made for it.
      session.settings({ maxConcurrentStreams: 0 });
    } catch {
      // already closing, or too many SETTINGS not yet acknowledged
    }
    stopReading(session);
    onAbuse?.(session);
    onEnd?.("flood");
    // Not from inside this event: it runs within nghttp2's frame callbacks, and destroying the
    // session there trips Node's nghttp2 memory accounting (an abort of the whole process,
    // nodejs/node#38964). destroy(undefined, code) would send NO_ERROR (the error's default wins).
    // Not at once either: closing a socket with unread data sends a TCP RST, and a client that
    // writes before it has read the GOAWAY gets ECONNRESET and never sees why (~4% of flooding
    // connections did at once; none with a grace of 20 ms). Nothing is read meanwhile.
    setTimeout(() => session.destroy(new Error(`http2 ${what} flood`), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM), FLOOD_CLOSE_GRACE_MS).unref();
  };

  const armIdle = () => {
    if (limits.idleTimeoutMs <= 0) return;
    idle = setTimeout(() => {
      logger.debug({ timeoutMs: limits.idleTimeoutMs }, "http2 connection idle; closing");
      session.close();
    }, limits.idleTimeoutMs);
    idle.unref();
  };

  // Node (checked on 20.20) does not give back the session memory of data queued for a stream that
  // is destroyed before the data went out: Http2Stream::Destroy drops its write queue without
  // DecrementAvailableOutboundLength. Each client reset of a stream with unsent data (a reader that
  // stopped reading, then cancelled) leaks that much of maxSessionMemory for good, and a long-lived
  // connection (one grpc-js channel) ends up refusing every new stream with ENHANCE_YOUR_CALM. The
  // unsent bytes are counted here (what the stream had not yet written: an over-estimate) and the
  // connection is retired with a graceful GOAWAY at half the limit; its running streams finish and
  // clients reconnect (docs/hardening.md).
  const leakBudget = (limits.http2MaxSessionMemoryMb * 1024 * 1024) / 2;
  let leaked = 0;
  const countUnsent = (stream: http2.ServerHttp2Stream) => {
    const unsent = stream.writableLength;
    if (unsent === 0 || leaked > leakBudget) return;
    leaked += unsent;
    if (leaked <= leakBudget) return;
    onEnd?.("unsent_data");
    logger.info({ unsentBytes: leaked, maxSessionMemoryMb: limits.http2MaxSessionMemoryMb, address: session.socket?.remoteAddress }, "retiring an http2 connection: streams reset with unsent data hold Node's session memory (GOAWAY; the client reconnects)");
    // Not from inside this event (nghttp2's stream-close callback), as for destroy below.
    setImmediate(() => {
      if (!session.closed && !session.destroyed) session.close();
    });
  };

  const endTurn = () => (st.turnStreams = 0);
  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    // New streams per turn of the event loop (nginx counts them per read). Our answers go out only
    // after the turn, so within one a client can only have opened streams it still counts as open
    // (at most maxConcurrentStreams) and streams it reset itself (each reset a control frame, at
    // most the burst). Past that, the resets went uncounted: streams answered at once are closed
    // before their RST_STREAM arrives, which then counts nowhere, and the flood would run on to
    // nghttp2's own reset limit, whose GOAWAY(INTERNAL_ERROR) leaves the connection open.
    if (++st.turnStreams === 1) setImmediate(endTurn);
    else if (st.turnStreams > perTurn) charge("HEADERS", always);
    if (handshake) handshake = (clearTimeout(handshake), undefined);
    if (idle) idle = (clearTimeout(idle), undefined);
    open++;
    // 'aborted' fires when the stream closes before our side ended it: in practice a client's
    // RST_STREAM (our own handlers end their side before closing a stream).
    // on(), not once(): each fires at most once per stream, and once() costs a bound wrapper per call.
    stream.on("aborted", () => {
      st.resets++;
      st.lastReset = performance.now();
      charge("RST_STREAM");
      if (held.has(stream)) charge("rapid RST_STREAM", rapid);
      countUnsent(stream);
    });
    stream.on("close", () => {
      if (--open === 0 && !session.closed) armIdle();
    });
  });
  session.on("ping", () => charge("PING"));
  session.on("remoteSettings", () => charge("SETTINGS"));
  session.once("close", () => {
    clearTimeout(handshake);
    clearTimeout(idle);
    if (st.dropped + st.skipped > 0) logger.debug({ dropped: st.dropped, skipped: st.skipped }, "http2 streams answered without a handler (flood or rapid reset)");
  });
}

// Stops reading the socket (libuv uv_read_stop, allowed inside its read callback): the rest of the
// current read is still parsed, but not the megabytes a flooder has queued behind it, which the
// event loop would otherwise read and parse in the same pass, before the session is destroyed.
function stopReading(session: http2.Http2Session): void {
  const handle = (session.socket as unknown as { _handle?: { readStop?: () => number } } | undefined)?._handle;
  handle?.readStop?.();
}
