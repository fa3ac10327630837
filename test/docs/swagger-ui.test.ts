// Swagger UI at /docs in a real Chromium: the page loads only from this port, and "Try it out"
// calls the REST route on the same port and shows the answer.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { chromium } from "playwright-core";
import { startServer } from "../support/server.js";

const CHROMIUM = "/usr/bin/chromium";
const skip = existsSync(CHROMIUM) ? false : "chromium is not installed (run .ci/install-browser.sh)";

describe("Swagger UI at /docs", { skip }, () => {
  it("tries out GET /v1/hello/{name} against the same port", async () => {
    const { url } = await startServer();
    const dir = mkdtempSync(join(tmpdir(), "oneport-swagger-"));
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    after(async () => {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const foreign: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(url) && !r.url().startsWith("data:")) foreign.push(r.url());
    });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${url}/docs`);
    const op = page.locator('.opblock-get:has(.opblock-summary-path[data-path="/v1/hello/{name}"])');
    await op.locator(".opblock-summary").click();
    // /docs starts with "Try it out" switched on (tryItOutEnabled), so the inputs are ready.
    await op.locator('input[placeholder="name"]').fill("Bob");
    await op.getByRole("button", { name: "Execute" }).click();
    const body = op.locator(".live-responses-table .response-col_description pre.microlight").first();
    await body.waitFor();
    assert.deepEqual(JSON.parse((await body.textContent()) ?? ""), { message: "Hello, Bob" });
    assert.match((await op.locator(".live-responses-table tbody .response-col_status").first().textContent()) ?? "", /200/);
    assert.deepEqual(foreign, [], "no request leaves the server's origin (no CDN)");
    assert.deepEqual(errors, []);
  });
});
