// Rules for the test files themselves, learnt the hard way.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

const root = join(import.meta.dirname, "..");
/** The test files, as paths relative to test/. */
const testFiles = (): string[] => readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".test.ts"));

/** Top-level lines that await after the file's first top-level describe()/it()/test(). */
export function lateTopLevelAwaits(source: string): number[] {
  const late: number[] = [];
  let seen = false;
  source.split("\n").forEach((line, i) => {
    if (/^(describe|it|test)\(/.test(line)) seen = true;
    else if (seen && /^[A-Za-z_$].*\bawait\b/.test(line) && !/^(async )?function\b|^export (async )?function\b/.test(line)) late.push(i + 1);
  });
  return late;
}

describe("test files", () => {
  it("register every describe() before their first top-level await has let the earlier suites finish", () => {
    // node:test runs a file's top-level after() hooks as soon as the suites registered so far are
    // done: a describe() registered after a slow top-level await (a browser launch) then runs
    // against servers the hooks already closed (CI saw ERR_CONNECTION_REFUSED that way).
    const offenders = testFiles().flatMap((f) => lateTopLevelAwaits(readFileSync(join(root, f), "utf8")).map((n) => `${f}:${n}`));
    assert.deepEqual(offenders, []);
  });

  it("the check sees such an await", () => {
    assert.deepEqual(lateTopLevelAwaits('describe("a", () => {});\nconst page = skip ? undefined : await open();\ndescribe("b", () => {});\n'), [2]);
    assert.deepEqual(lateTopLevelAwaits('const page = await open();\ndescribe("a", () => {\n  it("x", async () => {\n    await page.goto(u);\n  });\n});\n'), []);
  });
});
