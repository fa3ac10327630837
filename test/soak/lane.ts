// A lane is one protocol's traffic: a weighted list of scenarios that the soak starts at a steady
// rate. Each scenario is one or a few calls that record their outcome in the Tally.
import type { Tally } from "./tally.js";

/** One kind of call a lane makes, with how often it is picked relative to the others. */
export interface Scenario {
  name: string;
  weight: number;
  run(): Promise<void>;
}

/** The traffic of one protocol. */
export interface Lane {
  protocol: string;
  scenarios: Scenario[];
  /** Closes the lane's clients and connections. */
  close(): Promise<void>;
}

/** What every lane is built from. */
export interface LaneEnv {
  url: string;
  tally: Tally;
  /** The server's receive limit: "over-limit" scenarios send more than this. */
  maxMessageBytes: number;
  /** A valid chat token (for REST's over-limit body, which needs an authenticated route). */
  chatToken: string;
  /** Deterministic pseudo-random numbers in [0, 1), so that a failing run can be replayed. */
  random: () => number;
}

/** A small seeded generator (mulberry32): the soak's mix is the same for the same seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The longest a scenario may run (every one of them takes well under a second when healthy). */
export const SCENARIO_TIMEOUT_MS = 60_000;

/** Picks a scenario by weight. */
export function pick(scenarios: Scenario[], random: () => number): Scenario {
  const total = scenarios.reduce((s, x) => s + x.weight, 0);
  let r = random() * total;
  for (const s of scenarios) {
    r -= s.weight;
    if (r < 0) return s;
  }
  return scenarios[scenarios.length - 1];
}

/**
 * Drives lanes open-loop: every `intervalMs` each lane starts one scenario, unless `maxInFlight`
 * of its scenarios are still running (then the tick is skipped and counted, so that a loaded
 * machine slows the soak down instead of piling up calls).
 */
export class Driver {
  readonly skipped = new Map<string, number>();
  private readonly inFlight = new Map<string, Set<Promise<void>>>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly lanes: Lane[],
    private readonly intervalMs: number,
    private readonly maxInFlight: number,
    private readonly random: () => number,
    private readonly tally: Tally,
  ) {}

  /** Starts ticking. */
  start(): void {
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  /** Stops starting scenarios and waits for the running ones. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.inFlight.values()].flatMap((s) => [...s]));
  }

  private tick(): void {
    for (const lane of this.lanes) {
      let running = this.inFlight.get(lane.protocol);
      if (!running) this.inFlight.set(lane.protocol, (running = new Set()));
      if (running.size >= this.maxInFlight) {
        this.skipped.set(lane.protocol, (this.skipped.get(lane.protocol) ?? 0) + 1);
        continue;
      }
      const s = pick(lane.scenarios, this.random);
      let timer: NodeJS.Timeout | undefined;
      // A scenario that never ends would hold its lane's slot for good: it fails after SCENARIO_TIMEOUT_MS.
      const hung = new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`still running after ${SCENARIO_TIMEOUT_MS} ms`)), SCENARIO_TIMEOUT_MS);
      });
      const p: Promise<void> = Promise.race([s.run(), hung])
        // A scenario records its own outcomes; one that throws has a bug worth seeing, not a crash.
        .catch((e: unknown) => this.tally.fail(lane.protocol, `scenario ${s.name}`, "no exception", "exception", String((e as Error)?.stack ?? e)))
        .finally(() => {
          clearTimeout(timer);
          running.delete(p);
        });
      running.add(p);
    }
  }
}
