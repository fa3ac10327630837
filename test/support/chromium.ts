// The headless Chromium of the browser tests (.ci/install-browser.sh installs it).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { chromium, type Page } from "playwright-core";

/** Where the Debian chromium package puts the browser. */
export const CHROMIUM = "/usr/bin/chromium";

/** A describe()/it() `skip` value: false, or why browser tests cannot run here. */
export const chromiumSkip: false | string = existsSync(CHROMIUM) ? false : "chromium is not installed (run .ci/install-browser.sh)";

/** A page of a fresh headless Chromium profile, closed (and the profile removed) after the test file. */
export async function openChromiumPage(profilePrefix: string): Promise<Page> {
  const dir = mkdtempSync(join(tmpdir(), profilePrefix));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  after(async () => {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return context.pages()[0] ?? (await context.newPage());
}
