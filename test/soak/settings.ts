// The soak's settings from flags and the environment (flags win), validated once.
import { parseArgs } from "node:util";

/** What one soak run does. */
export interface SoakSettings {
  /** Length of the traffic phase. */
  seconds: number;
  /** Scenarios started per second on each protocol lane. */
  rate: number;
  /** Seed of the traffic mix: the same seed makes the same choices. */
  seed: number;
  /** Assert the RSS trend (off for runs too short to have one). */
  trend: boolean;
  /** Known defects (known-defects.ts) fail the run too. */
  strict: boolean;
  reportPath: string;
  /** Heap snapshots at the end of warm-up and at the end, and what grew between them (diagnostic). */
  heapDiff: boolean;
}

/** Parses `npm run soak -- ...` flags and SOAK_* variables; throws an Error that names the bad setting. */
export function soakSettings(argv: string[], env: NodeJS.ProcessEnv): SoakSettings {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: "string" },
      rate: { type: "string" },
      seed: { type: "string" },
      report: { type: "string" },
      "no-trend": { type: "boolean" },
      strict: { type: "boolean" },
      "heap-diff": { type: "boolean" },
    },
  });
  const num = (v: string | undefined, fallback: number, what: string) => {
    const n = v === undefined || v === "" ? fallback : Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${what} must be a positive number, got ${JSON.stringify(v)}`);
    return n;
  };
  return {
    seconds: num(values.seconds ?? env.SOAK_SECONDS, 600, "--seconds (SOAK_SECONDS)"),
    rate: num(values.rate ?? env.SOAK_RATE, 10, "--rate (SOAK_RATE)"),
    seed: num(values.seed ?? env.SOAK_SEED, Date.now() % 1_000_000, "--seed (SOAK_SEED)"),
    trend: !(values["no-trend"] || env.SOAK_TREND === "0"),
    strict: values.strict === true || env.SOAK_STRICT === "1",
    reportPath: values.report ?? env.SOAK_REPORT ?? "test/artifacts/soak-report.json",
    heapDiff: values["heap-diff"] === true || env.SOAK_HEAP_DIFF === "1",
  };
}
