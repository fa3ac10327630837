// Keeps `npm run soak` from rotting: the whole soak, shortened to a few seconds. The RSS trend needs
// minutes to mean anything and is not asserted here; message and error accounting are.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { finished, runTs } from "../support/process.js";

const dir = await mkdtemp(join(tmpdir(), "oneport-soak-"));
after(() => rm(dir, { recursive: true, force: true }));

interface Report {
  ok: boolean;
  reasons: string[];
  calls: Record<string, { calls: number; ok: number; expectedErrors: number; unexpected: number }>;
  chat: { sent: number; delivered: number; problems: number };
  unexpected: unknown[];
  samples: Array<{ t: number; rss: number }>;
  server: { exitCode: number | null; aliveAtEnd: boolean };
}

describe("npm run soak (short)", { timeout: 240_000 }, () => {
  it("drives every protocol, accounts for every chat message and error, and exits 0", async () => {
    const report = join(dir, "report.json");
    const r = await finished(runTs("test/soak/run.ts", ["--no-trend", "--seed", "8"], { SOAK_SECONDS: "10", SOAK_REPORT: report }));
    assert.equal(r.code, 0, `soak failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
    assert.match(r.stdout, /SOAK PASSED/);
    assert.match(r.stdout, /RSS over time/);
    const rep = JSON.parse(await readFile(report, "utf8")) as Report;
    assert.equal(rep.ok, true, rep.reasons.join("; "));
    for (const p of ["grpc", "connect-json-h1", "connect-proto-h2", "grpc-web", "rest", "ws-json", "ws-proto"]) {
      const c = rep.calls[p];
      assert.ok(c && c.ok > 0 && c.expectedErrors > 0, `${p} made successful calls and got its injected errors: ${JSON.stringify(c)}`);
      assert.equal(c.unexpected, 0, p);
    }
    assert.ok(rep.chat.sent > 0 && rep.chat.delivered > rep.chat.sent, JSON.stringify(rep.chat));
    assert.equal(rep.chat.problems, 0);
    assert.deepEqual(rep.unexpected, []);
    assert.ok(rep.samples.length > 5 && rep.samples.every((s) => s.rss > 0), "RSS was sampled");
    assert.deepEqual(rep.server, { ...rep.server, exitCode: 0, aliveAtEnd: true });
  });
});
