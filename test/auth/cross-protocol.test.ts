import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { attempts, refusedAt } from "./clients.js";
import { makeCredentials, startAuthServer } from "./support.js";

const creds = await makeCredentials();
const { url } = await startAuthServer(creds.jwks.url);

/** case name -> protocol -> code seen. */
const seen = new Map<string, Map<string, number>>();

for (const c of creds.cases) {
  describe(`auth with ${c.name}`, () => {
    for (const [protocol, attempt] of Object.entries(attempts)) {
      it(`${c.code === 0 ? "accepts" : "refuses"} it over ${protocol}${c.code === 0 ? "" : c.code === 16 ? " with UNAUTHENTICATED" : " with PERMISSION_DENIED"}`, async () => {
        refusedAt.last = undefined;
        const code = await attempt(url, c.token);
        // A token presented at the upgrade is judged there: an invalid one never gets a WebSocket.
        if (/WebSocket/.test(protocol) && code !== 0) {
          const atUpgrade = c.code === 16 && c.token !== undefined && !/frame/.test(protocol);
          assert.equal(refusedAt.last, atUpgrade ? "upgrade" : "call");
        }
        if (!seen.has(c.name)) seen.set(c.name, new Map());
        seen.get(c.name)!.set(protocol, code);
        assert.equal(code, c.code);
      });
    }
  });
}

describe("auth across protocols", () => {
  it("gives every credential the same answer on every protocol", () => {
    for (const c of creds.cases) {
      const codes = seen.get(c.name);
      assert.equal(codes?.size, Object.keys(attempts).length, `every protocol tried ${c.name}`);
      assert.deepEqual(new Set(codes!.values()), new Set([c.code]), `${c.name}: ${JSON.stringify([...codes!])}`);
    }
  });
});
