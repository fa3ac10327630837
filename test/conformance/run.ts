/**
 * `npm run conformance`: the Connect conformance suite (connectconformance --mode server) against
 * oneport. Generates TypeScript from the runner's own protos, type-checks the reference server, runs
 * the suite with parallel servers, prints pass/total per protocol and exits non-zero on any
 * unexpected result. Extra arguments go to the runner, e.g. `npm run conformance -- --run 'Basic/**'`.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import { tally } from "./summary.js";

const root = new URL("../..", import.meta.url).pathname;
const here = join(root, "test/conformance");

/** The pinned runner version: .ci/install-go-peers.sh is the one place it is written. */
function pinnedVersion(): string {
  const m = /^CONFORMANCE_VERSION=(\S+)$/m.exec(readFileSync(join(root, ".ci/install-go-peers.sh"), "utf8"));
  if (!m) throw new Error(".ci/install-go-peers.sh has no CONFORMANCE_VERSION line");
  return m[1];
}

function go(...args: string[]): string {
  return execFileSync("go", args, { encoding: "utf8" }).trim();
}

function fail(message: string): never {
  console.error(`conformance: ${message}`);
  process.exit(1);
}

function findRunner(version: string): string {
  const gobin = join(go("env", "GOPATH"), "bin");
  const dirs = [gobin, ...(process.env.PATH ?? "").split(delimiter)];
  const bin = dirs.map((d) => join(d, "connectconformance")).find((p) => existsSync(p));
  if (!bin) fail("connectconformance is not installed; run `bash .ci/install-go-peers.sh`");
  const built = /\n\s+mod\s+connectrpc\.com\/conformance\s+(\S+)/.exec(go("version", "-m", bin));
  if (built?.[1] !== version) fail(`${bin} is ${built?.[1] ?? "of unknown version"}, the pin is ${version}; run \`bash .ci/install-go-peers.sh\``);
  return bin;
}

const version = pinnedVersion();
const runner = findRunner(version);
const protos = join(go("env", "GOMODCACHE"), `connectrpc.com/conformance@${version}`, "proto");
if (!existsSync(protos)) fail(`the suite's protos are missing at ${protos}; run \`bash .ci/install-go-peers.sh\``);

const bin = join(root, "node_modules/.bin");
const env = { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ""}` };
execFileSync(join(bin, "buf"), ["generate", protos, "--template", join(here, "buf.gen.yaml")], { cwd: root, stdio: "inherit", env });
execFileSync(join(bin, "tsc"), ["--noEmit", "-p", join(here, "tsconfig.json")], { cwd: root, stdio: "inherit", env });

// The runner gives each server 10 s to start; tsx needs several of them on a busy 2-core machine,
// so servers start one at a time, each with many RPCs in flight.
const args = [
  "--mode", "server",
  "--conf", join(here, "config.yaml"),
  "--known-failing", `@${join(here, "known-failing.txt")}`,
  "--max-servers", process.env.CONFORMANCE_MAX_SERVERS ?? "1",
  "--parallel", process.env.CONFORMANCE_PARALLEL ?? "16",
  "--vv",
  ...process.argv.slice(2),
  "--", process.execPath, "--import", "tsx", join(here, "server/main.ts"),
];
console.log(`connectconformance ${version}: ${runner} ${args.join(" ")}`);

/** Runs the runner; returns its exit code and everything it printed. */
async function runSuite(): Promise<{ code: number; output: string }> {
  const child = spawn(runner, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env });
  let output = "";
  // Per-case progress lines (for the tally) and the servers' JSON log lines go to the log file only.
  const show = (line: string) => {
    output += line + "\n";
    if (!/^(Sending request|Received response) for "/.test(line) && !line.startsWith("{")) console.log(line);
  };
  createInterface({ input: child.stdout }).on("line", show);
  createInterface({ input: child.stderr }).on("line", show);
  const code: number = await new Promise((resolve) => child.on("close", (c) => resolve(c ?? 1)));
  return { code, output };
}

// No retries: a case that fails, fails the run (HTTP/1.1 cases once failed with connection resets
// after early answers; test/http/early-answer.test.ts covers the fix).
const { code, output } = await runSuite();

mkdirSync(join(root, "test/artifacts"), { recursive: true });
writeFileSync(join(root, "test/artifacts/conformance.log"), output);
const t = tally(output);
console.log("\nconformance by protocol (passed/total):");
for (const [p, c] of Object.entries(t)) if (c.total > 0) console.log(`  ${p.padEnd(9)} ${c.passed}/${c.total}`);
const last = /^(\d+) passed, (\d+) failed$/m.exec(output);
if (last) console.log(last[0]);
console.log(`full runner output: test/artifacts/conformance.log; runner exit code ${code}`);
process.exit(code);
