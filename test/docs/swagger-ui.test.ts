// Swagger UI at /docs in a real Chromium: the page loads only from this port, and "Try it out"
// calls the REST route on the same port and shows the answer.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Page } from "playwright-core";
import { exampleService } from "../../src/services/example.js";
import { chromiumSkip, openChromiumPage } from "../support/chromium.js";
import { startServer } from "../support/server.js";
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
});
