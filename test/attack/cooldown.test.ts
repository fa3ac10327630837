// The address cool-down: after a connection is closed for an HTTP/2 flood, new connections from the
// same client address are refused for floodCooldownMs, so a reconnecting attacker cannot make the
// server parse a fresh flood every time; other addresses are served meanwhile. Attackers connect
// from 127.0.0.2 and up, the probe from 127.0.0.1 (Linux routes all of 127/8 to loopback).
import assert from "node:assert/strict";
import * as net from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { addressKey, AddressCooldown } from "../../src/http/address-guard.js";
import { startServer } from "../support/server.js";
import { selfSignedCert } from "../support/tls.js";
import { E, ping, RawH2, T } from "./h2raw.js";
import { spawnTs } from "./peers/spawn.js";
import { probe, probeWhile } from "./support.js";

const limits = { http2ControlFrameRate: 20, http2ControlFrameBurst: 200 };

/** Floods PINGs from `from` until the server closes the connection; returns the first GOAWAY code. */
async function pingFlood(port: number, from: string): Promise<number | undefined> {
  const c = await RawH2.connect(port, true, from);
  for (let i = 0; !c.closed && i < 100_000; i += 50) {
    c.write(Buffer.concat(Array.from({ length: 50 }, (_, j) => ping(i + j))));
    await new Promise((r) => setImmediate(r));
  }
  await c.untilClosed();
  return c.goaway;
}

/** Connects from `from`: "served" when the server sent its SETTINGS, "refused" when it closed first. */
async function knock(port: number, from: string): Promise<"served" | "refused"> {
  const c = await RawH2.connect(port, true, from).catch(() => undefined);
  const served = c !== undefined && c.frames.some((f) => f.type === T.SETTINGS);
  c?.destroy();
  return served ? "served" : "refused";
}

describe("flood cool-down per client address", { timeout: 60_000 }, () => {
  it("refuses an address whose connection flooded, serves other addresses meanwhile", async () => {
    const { url, port } = await startServer({ limits: { ...limits, floodCooldownMs: 60_000 } });
    await probe(url, "before");
    const flood = pingFlood(port, "127.0.0.2");
    await probeWhile(url, flood);
    assert.equal(await flood, E.ENHANCE_YOUR_CALM);
    assert.equal(await knock(port, "127.0.0.2"), "refused");
    assert.equal(await knock(port, "127.0.0.2"), "refused");
    assert.equal(await knock(port, "127.0.0.3"), "served");
    await probe(url, "during the cool-down");
  });

  it("serves the address again once its cool-down is over", async () => {
    const { url, port } = await startServer({ limits: { ...limits, floodCooldownMs: 500 } });
    assert.equal(await pingFlood(port, "127.0.0.4"), E.ENHANCE_YOUR_CALM);
    // Refused right after: the flood's close and this connection are moments apart (a loaded
    // machine could take longer than 500 ms between them, so that is not asserted), then served
    // again once the cool-down is over (polled, not timed).
    let again = await knock(port, "127.0.0.4");
    for (let i = 0; i < 300 && again !== "served"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      again = await knock(port, "127.0.0.4");
    }
    assert.equal(again, "served");
    await probe(url, "after");
  });

  it("refuses nobody when floodCooldownMs is 0", async () => {
    const { port } = await startServer({ limits: { ...limits, floodCooldownMs: 0 } });
    assert.equal(await pingFlood(port, "127.0.0.5"), E.ENHANCE_YOUR_CALM);
    assert.equal(await knock(port, "127.0.0.5"), "served");
  });

  it("refuses TLS connections from a cooling address before the handshake", async () => {
    const tls = selfSignedCert();
    const { url, port } = await startServer({ tls, limits: { ...limits, floodCooldownMs: 60_000 } });
    // TLS over a TCP socket from the given source address (tls.connect's types lack localAddress).
    const connect = (from: string, onSecure: () => void): TLSSocket =>
      tlsConnect({ socket: net.connect({ host: "127.0.0.1", port, localAddress: from }), ca: tls.cert, servername: "localhost", ALPNProtocols: ["h2"] }, onSecure);
    const open = (from: string) =>
      new Promise<"served" | "refused">((resolve) => {
        const s = connect(from, () => {
          s.destroy();
          resolve("served");
        });
        s.on("error", () => resolve("refused"));
        s.on("close", () => resolve("refused"));
      });
    assert.equal(await open("127.0.0.6"), "served");
    // Flood over TLS: a TLS client that sends the preface and PINGs.
    const flooded = await new Promise<number | undefined>((resolve) => {
      const s = connect("127.0.0.6", () => {
        s.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
        let goaway: number | undefined;
        let buf = Buffer.alloc(0);
        s.on("data", (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
            const len = buf.readUIntBE(0, 3);
            if (buf[3] === T.GOAWAY && goaway === undefined) goaway = buf.readUInt32BE(9 + 4);
            buf = buf.subarray(9 + len);
          }
        });
        const flood = () => {
          if (!s.destroyed) s.write(Buffer.concat(Array.from({ length: 50 }, (_, j) => ping(j))), () => setImmediate(flood));
        };
        flood();
        s.on("error", () => {});
        s.on("close", () => resolve(goaway));
      });
    });
    assert.equal(flooded, E.ENHANCE_YOUR_CALM);
    assert.equal(await open("127.0.0.6"), "refused");
    assert.equal(await open("127.0.0.7"), "served");
    await probe(url, "over TLS", tls.cert);
  });
});

describe("a reconnecting rapid-reset attacker at the default limits", { timeout: 60_000 }, () => {
  it("gets GOAWAY(ENHANCE_YOUR_CALM), then its reconnections are refused; the probe is served during and after", async () => {
    const { url, port } = await startServer();
    const attacker = spawnTs(fileURLToPath(new URL("./peers/flood-attacker.ts", import.meta.url)), { ATTACK_PORT: String(port), ATTACK_KIND: "rapid-reset", ATTACK_FROM: "127.0.0.2" });
    after(() => attacker.stop());
    await attacker.line((l) => "attacking" in l);
    // The first flood is closed, then ten reconnections in a row are reset at accept.
    const refused = attacker.line((l) => (l.refused as number) >= 10);
    refused.catch(() => undefined); // awaited below; a failed probe must not leave it unhandled
    await probeWhile(url, refused);
    await refused;
    await attacker.stop();
    const goaways = attacker.lines.filter((l) => "goaway" in l);
    assert.ok(goaways.length >= 1, "the flooding connection was closed with a GOAWAY");
    assert.ok(goaways.every((l) => l.goaway === E.ENHANCE_YOUR_CALM), `first GOAWAY codes: ${goaways.map((l) => l.goaway).join(" ")}`);
    await probe(url, "after");
  });

  it("with no cool-down, every flooding connection it opens is told why: GOAWAY(ENHANCE_YOUR_CALM) before the close", async () => {
    // The server closes a flooding connection a little after its GOAWAY: closing a socket with unread
    // data sends a TCP reset, and an attacker that wrote before reading the GOAWAY lost it (~4% of
    // connections when the close came at once).
    const { port } = await startServer({ limits: { floodCooldownMs: 0 } });
    const attacker = spawnTs(fileURLToPath(new URL("./peers/flood-attacker.ts", import.meta.url)), { ATTACK_PORT: String(port), ATTACK_KIND: "rapid-reset", ATTACK_FROM: "127.0.0.3" });
    after(() => attacker.stop());
    await attacker.line((l) => "attacking" in l);
    await attacker.line((l) => (l.closed as number) >= 40);
    await attacker.stop();
    const goaways = attacker.lines.filter((l) => "goaway" in l);
    const opened = attacker.lines.find((l) => "connections" in l)?.connections as number;
    // The connection open when the attacker stopped was closed by the attacker itself.
    assert.ok(goaways.length >= opened - 1, `${opened} connections opened, ${goaways.length} closed with a GOAWAY`);
    assert.ok(goaways.every((l) => l.goaway === E.ENHANCE_YOUR_CALM), `first GOAWAY codes: ${goaways.map((l) => l.goaway).join(" ")}`);
  });
});

describe("addressKey and AddressCooldown", () => {
  it("keys IPv4 by address, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64", () => {
    assert.equal(addressKey("192.0.2.7"), "192.0.2.7");
    assert.equal(addressKey("::ffff:192.0.2.7"), "192.0.2.7");
    assert.equal(addressKey("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    assert.equal(addressKey("2001:DB8:1:2::9"), "2001:db8:1:2::/64");
    assert.equal(addressKey("2001:db8::1"), "2001:db8:0:0::/64");
    assert.equal(addressKey("::1"), "0:0:0:0::/64");
    assert.equal(addressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
    assert.equal(addressKey(undefined), undefined);
  });

  it("cools an address for cooldownMs, and remembers at most maxEntries addresses", () => {
    let now = 0;
    const c = new AddressCooldown(1000, undefined, 3, () => now);
    c.penalize("192.0.2.1");
    assert.equal(c.cooling("192.0.2.1"), true);
    assert.equal(c.cooling("::ffff:192.0.2.1"), true);
    assert.equal(c.cooling("192.0.2.2"), false);
    now = 999;
    assert.equal(c.cooling("192.0.2.1"), true);
    now = 1000;
    assert.equal(c.cooling("192.0.2.1"), false);
    for (const a of ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]) c.penalize(a);
    assert.equal(c.size(), 3);
    assert.equal(c.cooling("10.0.0.1"), false, "the oldest is forgotten first");
    assert.equal(c.cooling("10.0.0.4"), true);
  });

  it("does nothing when the cool-down is 0", () => {
    const c = new AddressCooldown(0);
    c.penalize("192.0.2.1");
    assert.equal(c.cooling("192.0.2.1"), false);
    assert.equal(c.size(), 0);
  });
});
