import type * as net from "node:net";
import type { Logger } from "pino";

/**
 * The key a client address is remembered by: IPv4 as is (also when IPv4-mapped, "::ffff:1.2.3.4"),
 * IPv6 by its /64 prefix (one host or site commonly holds a whole /64, so per-address keys would be
 * free to evade). Undefined for a socket without an address (already closed).
 */
export function addressKey(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const lower = address.toLowerCase();
  if (lower.startsWith("::ffff:") && lower.includes(".")) return lower.slice(7);
  if (!lower.includes(":")) return lower;
  return ipv6Prefix64(lower);
}

// The first four 16-bit groups of an IPv6 address ("2001:db8::1" -> "2001:db8:0:0::/64").
function ipv6Prefix64(address: string): string {
  const [head, tail] = address.split("%")[0].split("::") as [string, string | undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  // An embedded IPv4 tail ("::1.2.3.4") stands for two groups.
  const groups = (g: string[]) => g.reduce((n, x) => n + (x.includes(".") ? 2 : 1), 0);
  const full = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - groups(left) - groups(right))).fill("0"), ...right];
  return full.slice(0, 4).map((g) => (g.includes(".") ? g : String(parseInt(g || "0", 16).toString(16)))).join(":") + "::/64";
}

/**
 * Client addresses whose connection was closed for abuse (an HTTP/2 flood), and whose new connections
 * are refused for a cool-down: a reconnecting attacker otherwise gets a fresh per-connection budget
 * every time and costs the server a parse of its next flood. Bounded: at most `maxEntries` addresses
 * are remembered (the oldest are forgotten first), so many attacking addresses cannot grow memory.
 */
export class AddressCooldown {
  private readonly until = new Map<string, number>();
  private refused = 0;
  private lastLog = -Infinity;

  constructor(
    private readonly cooldownMs: number,
    private readonly logger?: Logger,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts (or restarts) the cool-down of `address`; nothing when cool-downs are off (0 ms). */
  penalize(address: string | undefined): void {
    const key = addressKey(address);
    if (this.cooldownMs <= 0 || key === undefined) return;
    this.until.delete(key); // re-inserted last: Map order is then the order of expiry
    this.until.set(key, this.now() + this.cooldownMs);
    while (this.until.size > this.maxEntries) this.until.delete(this.until.keys().next().value as string);
    // Debug: the flood itself was logged as a warning with the address.
    this.logger?.debug({ address: key, cooldownMs: this.cooldownMs }, "client address closed for abuse; refusing its new connections for the cool-down");
  }

  /** True while `address` is cooling down. */
  cooling(address: string | undefined): boolean {
    const key = addressKey(address);
    if (key === undefined || this.until.size === 0) return false;
    const end = this.until.get(key);
    if (end === undefined) return false;
    if (this.now() < end) return true;
    this.until.delete(key);
    return false;
  }

  /**
   * Refuses a new connection from a cooling address: reset right after accept, before a byte is read
   * (the cheapest answer; nothing is parsed). Returns whether it did. Logged at most once a second.
   */
  refuse(socket: net.Socket): boolean {
    const address = socket.remoteAddress;
    if (!this.cooling(address)) return false;
    this.refused++;
    socket.on("error", () => {});
    // A TCP reset: no FIN handshake, no TIME_WAIT kept on the server's side.
    if (socket.readyState === "open") socket.resetAndDestroy();
    else socket.destroy();
    const t = this.now();
    if (t - this.lastLog >= 1000) {
      this.logger?.warn({ address: addressKey(address), refused: this.refused }, "connections refused during an abuse cool-down");
      this.lastLog = t;
      this.refused = 0;
    }
    return true;
  }

  /** How many addresses are remembered right now (expired ones included until looked up). */
  size(): number {
    return this.until.size;
  }
}
