import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bundleIsFresh } from "../../src/client/bundle.js";

describe("the browser bundle src/client/dist/oneport-browser.js", () => {
  it("matches a fresh build of src/client (run `npm run build:client` after changing it)", async () => {
    assert.equal(await bundleIsFresh(), true);
  });
});
