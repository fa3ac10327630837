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

const flooding = new WeakSet<http2.Http2Session>();

/**
 * True once a session went over its flood budget: it is closed on the next turn of the event loop,
 * and streams it still opens until then (a read can carry thousands) are refused without running
 * any handler.
 */
export function isFlooding(session: http2.Http2Session | undefined): boolean {
  return session !== undefined && flooding.has(session);
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
}

/**
 * Holds one server session to its limits: slowloris (a preface or a partial HEADERS and then
 * silence), idleness counted by open streams (PINGs do not keep an unused connection open, unlike
 * Node's activity timeout), and floods of cheap frames that cost the server work (CVE-2023-44487
 * rapid reset, CVE-2019-9512 ping and CVE-2019-9515 settings floods), answered like nghttp2 and
 * grpc-go do: GOAWAY(ENHANCE_YOUR_CALM) and the connection closes.
 */
export function guardSession(session: http2.ServerHttp2Session, limits: SessionLimits, logger: Logger): void {
  let open = 0;
  let idle: NodeJS.Timeout | undefined;
  let handshake: NodeJS.Timeout | undefined = setTimeout(() => {
    logger.debug({ timeoutMs: limits.headersTimeoutMs }, "http2 connection sent no complete request headers in time; closing");
    session.destroy();
  }, limits.headersTimeoutMs);
  handshake.unref();

  const bucket = limits.http2ControlFrameRate > 0 ? new TokenBucket(limits.http2ControlFrameRate, limits.http2ControlFrameBurst) : undefined;
  const charge = (what: string) => {
    if (!bucket || flooding.has(session) || bucket.take() || session.destroyed) return;
    flooding.add(session);
    logger.warn({ frame: what, rate: limits.http2ControlFrameRate, burst: limits.http2ControlFrameBurst }, "http2 flood: closing the connection with ENHANCE_YOUR_CALM");
    // Not from inside this event: it runs within nghttp2's frame callbacks, and destroying the
    // session there trips Node's nghttp2 memory accounting (an abort of the whole process,
    // nodejs/node#38964). destroy(undefined, code) would send NO_ERROR (the error's default wins).
    setImmediate(() => session.destroy(new Error(`http2 ${what} flood`), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM));
  };

  const armIdle = () => {
    if (limits.idleTimeoutMs <= 0) return;
    idle = setTimeout(() => {
      logger.debug({ timeoutMs: limits.idleTimeoutMs }, "http2 connection idle; closing");
      session.close();
    }, limits.idleTimeoutMs);
    idle.unref();
  };

  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    if (handshake) handshake = (clearTimeout(handshake), undefined);
    if (idle) idle = (clearTimeout(idle), undefined);
    open++;
    // 'aborted' fires when the stream closes before our side ended it: in practice a client's
    // RST_STREAM (our own handlers end their side before closing a stream).
    stream.once("aborted", () => charge("RST_STREAM"));
    stream.once("close", () => {
      if (--open === 0 && !session.closed) armIdle();
    });
  });
  session.on("ping", () => charge("PING"));
  session.on("remoteSettings", () => charge("SETTINGS"));
  session.once("close", () => {
    clearTimeout(handshake);
    clearTimeout(idle);
  });
}
