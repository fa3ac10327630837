// Fails when src/gen drifts from proto/: regenerates into a temporary folder and compares.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "oneport-gen-"));
try {
  const template = readFileSync(join(root, "buf.gen.yaml"), "utf8").replace(/out: src\/gen/g, `out: ${join(tmp, "gen")}`);
  writeFileSync(join(tmp, "buf.gen.yaml"), template);
  execFileSync(join(root, "node_modules/.bin/buf"), ["generate", "--template", join(tmp, "buf.gen.yaml")], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, PATH: `${join(root, "node_modules/.bin")}:${process.env.PATH}` },
  });
  const list = (dir) => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? list(join(dir, n)) : [join(dir, n)]));
  const want = new Map(list(join(tmp, "gen")).map((f) => [relative(join(tmp, "gen"), f), readFileSync(f, "utf8")]));
  const have = new Map(list(join(root, "src/gen")).map((f) => [relative(join(root, "src/gen"), f), readFileSync(f, "utf8")]));
  const drift = [];
  for (const [f, text] of want) if (have.get(f) !== text) drift.push(have.has(f) ? `changed: ${f}` : `missing: ${f}`);
  for (const f of have.keys()) if (!want.has(f)) drift.push(`stale: ${f}`);
  if (drift.length > 0) {
    console.error(`src/gen is out of date with proto/ (${drift.length} files):\n  ${drift.join("\n  ")}\nRun \`npm run generate\` and commit src/gen.`);
    process.exit(1);
  }
  console.log(`src/gen matches proto/ (${want.size} files)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
