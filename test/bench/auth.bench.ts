// What the auth layer costs per call: REST GET /v1/hello/{name} and Connect SayHello (HTTP/2) on oneport
// without auth (the baseline) against the same server with auth, one JWT (ES256, cached after the
// first call), the same JWT verified on every call (cacheTtlMs 0), and a static token. Servers
// pinned to one core, load on the other; interleaved rounds in one run; medians of server CPU time
// per call, reported as ratios to the baseline measured in the same run.
//   npx tsx test/bench/auth.bench.ts        (BENCH_ROUNDS, BENCH_SECONDS to change the run)
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { cpuSeconds, ensureTools, h2load, loadCore, median, startChild } from "./load.js";

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === "serve") {
  // Child mode: the server of one variant, announcing its port. Keys come from the parent.
  const kind = process.argv[3];
  const { createServer } = await import("../../src/server.js");
  const { exampleService } = await import("../../src/services/example.js");
  const jwk = JSON.parse(process.env.BENCH_JWK ?? "{}");
  const auth =
    kind === "none"
      ? undefined
      : {
          jwt: { jwks: { keys: [jwk] } },
          tokens: [{ token: "static-bench-token", subject: "bench", scopes: ["hello"] }],
          rules: [{ match: "example.ExampleService/*", access: { scopes: ["hello"] } }],
          cacheTtlMs: kind === "nocache" ? 0 : 60_000,
        };
  const server = createServer({ port: 0, host: "127.0.0.1", services: [exampleService()], auth });
  console.log(`PORT ${(await server.listen()).port}`);
} else {
  await main();
}

interface Figures {
  reqPerSec: number;
  cpuUsPerCall: number;
}

function wrk(pid: number, url: string, seconds: number, token: string | undefined): Figures {
  const cpu0 = cpuSeconds(pid);
  const header = token ? ["-H", `authorization: Bearer ${token}`] : [];
  const out = execFileSync("taskset", ["-c", loadCore, "wrk", "-t1", "-c32", `-d${seconds}s`, ...header, url], { encoding: "utf8" });
  const cpu = cpuSeconds(pid) - cpu0;
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in/.exec(out);
  if (!rps || !total) throw new Error(`cannot read wrk output:\n${out}`);
  if (/Non-2xx/.test(out)) throw new Error(`wrk saw errors against ${url}:\n${out}`);
  return { reqPerSec: Number(rps[1]), cpuUsPerCall: (cpu * 1e6) / Number(total[1]) };
}

async function main(): Promise<void> {
  ensureTools();
  if (execFileSync("sh", ["-c", "command -v wrk || true"], { encoding: "utf8" }).trim() === "") {
    execFileSync("bash", [new URL("../../.ci/install-bench.sh", import.meta.url).pathname], { stdio: "inherit" });
  }
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const seconds = Number(process.env.BENCH_SECONDS ?? 3);
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "bench", alg: "ES256" };
  const jwt = await new SignJWT({ sub: "bench", scope: "hello" }).setProtectedHeader({ alg: "ES256", kid: "bench" }).setExpirationTime("1h").sign(privateKey);
  process.env.BENCH_JWK = JSON.stringify(jwk);
  const variants: Record<string, { server: string; token?: string }> = {
    "no auth (baseline)": { server: "none" },
    "JWT ES256, cached": { server: "auth", token: jwt },
    "JWT ES256, every call": { server: "nocache", token: jwt },
    "static token": { server: "auth", token: "static-bench-token" },
  };
  const dir = mkdtempSync(join(tmpdir(), "oneport-auth-bench-"));
  const body = join(dir, "hello.json");
  writeFileSync(body, JSON.stringify({ name: "Bob" }));
  const jsonH = ["content-type: application/json", "connect-protocol-version: 1"];
  const servers: Record<string, Awaited<ReturnType<typeof startChild>>> = {};
  for (const kind of ["none", "auth", "nocache"]) servers[kind] = await startChild(self, ["serve", kind]);
  try {
    const rest: Record<string, Figures[]> = {};
    const grpc: Record<string, Figures[]> = {};
    const url = (port: number) => `http://127.0.0.1:${port}/v1/hello/Bob`;
    for (const [name, v] of Object.entries(variants)) {
      const s = servers[v.server];
      const check = await fetch(url(s.port), { headers: v.token ? { authorization: `Bearer ${v.token}` } : {} });
      if (check.status !== 200) throw new Error(`${name}: HTTP ${check.status} ${await check.text()}`);
      wrk(s.proc.pid!, url(s.port), 1, v.token); // warm-up (JIT, caches)
      rest[name] = [];
      grpc[name] = [];
    }
    for (let r = 0; r < rounds; r++) {
      for (const [name, v] of Object.entries(variants)) {
        const s = servers[v.server];
        rest[name].push(wrk(s.proc.pid!, url(s.port), seconds, v.token));
        // h2load counts 2xx as success: every call must have been let in.
        const g = h2load(s.proc.pid!, `http://127.0.0.1:${s.port}/example.ExampleService/SayHello`, { h1: false, headers: [...jsonH, ...(v.token ? [`authorization: Bearer ${v.token}`] : [])], body, seconds });
        if (g.succeeded !== g.done) throw new Error(`${name}: ${g.done - g.succeeded} Connect calls failed`);
        grpc[name].push({ reqPerSec: g.reqPerSec, cpuUsPerCall: g.cpuUsPerCall });
      }
    }
    console.log(`auth cost: ${rounds} interleaved rounds x ${seconds}s per protocol; medians; server CPU per call and its ratio to no auth`);
    for (const [label, results] of [["REST GET, HTTP/1.1, wrk -c32", rest], ["Connect JSON unary, HTTP/2, h2load -c8 -m16", grpc]] as const) {
      console.log(`\n${label}`);
      console.log("variant                     req/s   CPU µs/call   CPU ratio");
      const base = median(results["no auth (baseline)"].map((x) => x.cpuUsPerCall));
      for (const name of Object.keys(variants)) {
        const cpu = median(results[name].map((x) => x.cpuUsPerCall));
        const rps = median(results[name].map((x) => x.reqPerSec));
        console.log(`${name.padEnd(24)} ${rps.toFixed(0).padStart(8)} ${cpu.toFixed(1).padStart(13)} ${(cpu / base).toFixed(2).padStart(11)}`);
      }
    }
  } finally {
    for (const s of Object.values(servers)) s.proc.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}
