// Swagger UI at /docs in a real Chromium: the page loads only from this port, and "Try it out"
// calls the REST route on the same port and shows the answer.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { exampleService } from "../../src/services/example.js";
import { chromiumSkip, openChromiumPage } from "../support/chromium.js";
import { startServer, type TestServer } from "../support/server.js";
import { transcodingService } from "../rest/transcoding-service.js";

const skip = chromiumSkip;
const openPage = () => openChromiumPage("oneport-swagger-");

/** Opens an operation, fills its path parameters, executes it and returns the status, body and the URL Swagger UI called. */
async function tryItOut(page: Page, method: string, path: string, params: Record<string, string>): Promise<{ status: string; body: string; called: string }> {
  const op = page.locator(`.opblock-${method}:has(.opblock-summary-path[data-path="${path}"])`);
  await op.locator(".opblock-summary").click();
  // /docs starts with "Try it out" switched on (tryItOutEnabled); the Execute button shows once the
  // inputs are in edit mode (a value typed before that is lost when the row re-renders).
  const execute = op.getByRole("button", { name: "Execute" });
  await execute.waitFor();
  for (const [name, value] of Object.entries(params)) {
    const input = op.locator(`tr[data-param-name="${name}"][data-param-in="path"] input`);
    await input.fill(value);
    assert.equal(await input.inputValue(), value);
  }
  const request = page.waitForRequest((r) => r.method() === method.toUpperCase() && new URL(r.url()).pathname.startsWith("/v1/"));
  await execute.click();
  const called = (await request).url();
  const body = op.locator(".live-responses-table .response-col_description pre.microlight").first();
  await body.waitFor();
  const status = (await op.locator(".live-responses-table tbody .response-col_status").first().textContent()) ?? "";
  return { status, body: (await body.textContent()) ?? "", called };
}

// One server and one browser page for the file (launching Chromium is the slow part), opened at
// the top level so their `after` hooks belong to the file.
const foreign: string[] = [];
const errors: string[] = [];
const { url } = await startServer({ services: [exampleService(), transcodingService()] });
const page = skip ? undefined : await openPage();
if (page) {
  page.on("request", (r) => {
    if (!r.url().startsWith(url) && !r.url().startsWith("data:")) foreign.push(r.url());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${url}/docs`);
}

describe("the /docs start script", () => {
  it("turns off Swagger UI's online validator (validatorUrl: null), which would call validator.swagger.io", async () => {
    const res = await fetch(`${url}/docs/init.js`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^\s*validatorUrl: null,$/m);
  });
});

describe("Swagger UI at /docs", { skip }, () => {
  it("tries out GET /v1/hello/{name} against the same port", async () => {
    const r = await tryItOut(page!, "get", "/v1/hello/{name}", { name: "Bob" });
    assert.deepEqual(JSON.parse(r.body), { message: "Hello, Bob" });
    assert.match(r.status, /200/);
    assert.deepEqual(foreign, [], "no request leaves the server's origin (no CDN)");
    assert.deepEqual(errors, []);
  });

  it("tries out ** routes with values holding \"/\", which Swagger UI sends as %2F, and gets the right resource", async () => {
    // GET /v1/{name=files/**}: one parameter for the rest of the path.
    const files = await tryItOut(page!, "get", "/v1/files/{name}", { name: "dir/sub dir/a.txt" });
    assert.equal(files.called, `${url}/v1/files/dir%2Fsub%20dir%2Fa.txt`, "Swagger UI percent-encodes the / of a path parameter");
    assert.match(files.status, /200/);
    assert.equal(JSON.parse(files.body).name, "files/dir/sub dir/a.txt");
    // GET /v1/{name=projects/*/files/**}: the * and the ** each a parameter, the literals in the path.
    const project = await tryItOut(page!, "get", "/v1/projects/{name}/files/{name_2}", { name: "p1", name_2: "docs/readme.md" });
    assert.equal(project.called, `${url}/v1/projects/p1/files/docs%2Freadme.md`);
    assert.match(project.status, /200/);
    assert.equal(JSON.parse(project.body).name, "projects/p1/files/docs/readme.md");
    assert.deepEqual(errors, []);
  });

  it("asks no online validator when opened from a host other than localhost and 127.0.0.1", async (t) => {
    // Swagger UI skips its validator badge by default only when the spec URL names localhost or
    // 127.0.0.1; 127.0.0.2 is a loopback address too (on Linux) that it does not recognize.
    let other: TestServer;
    try {
      other = await startServer({ host: "127.0.0.2", services: [exampleService()] });
    } catch (e) {
      return t.skip(`cannot listen on 127.0.0.2: ${String(e)}`);
    }
    const origin = `http://127.0.0.2:${other.port}`;
    const tab = await page!.context().newPage();
    after(() => tab.close());
    const leaving: string[] = [];
    const problems: string[] = [];
    tab.on("request", (r) => {
      if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) leaving.push(r.url());
    });
    tab.on("requestfailed", (r) => problems.push(`${r.url()}: ${r.failure()?.errorText}`));
    tab.on("console", (m) => {
      if (m.type() === "error") problems.push(m.text());
    });
    tab.on("pageerror", (e) => problems.push(String(e)));
    await tab.goto(`${origin}/docs`);
    await tab.locator('.opblock-summary-path[data-path="/v1/hello/{name}"]').waitFor();
    await tab.waitForLoadState("networkidle");
    assert.deepEqual(leaving, [], "no request for validator.swagger.io or anything else off this origin");
    assert.deepEqual(problems, [], "no CSP violation or other console error");
    assert.equal(await tab.locator('[href*="validator.swagger.io"], [src*="validator.swagger.io"]').count(), 0, "no validator badge");
  });
});
