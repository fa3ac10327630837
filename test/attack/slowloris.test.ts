// Slowloris: connections that start a request and then crawl, on every way into the port (HTTP/1.1,
// the h2c preface sniffer, HTTP/2 after the preface, TLS). Each is closed at limits.headersTimeoutMs
// while a probe keeps making real calls.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startServer } from "../support/server.js";
import { selfSignedCert } from "../support/tls.js";
import { F, frame, grpcHeaders, headerBlock, PREFACE, RawH2, T } from "./h2raw.js";
import { eventually, probe, probeWhile, RawConn, serverSockets } from "./support.js";

const limits = { headersTimeoutMs: 400, requestTimeoutMs: 1500 };

describe("slowloris on cleartext", { timeout: 60_000 }, async () => {
  const { url, port } = await startServer({ limits });

  it("closes HTTP/1.1 connections that trickle their headers byte by byte, with 408", async () => {
    const conns = await Promise.all(Array.from({ length: 20 }, () => RawConn.open(port)));
    const head = "GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: " + "a".repeat(5000);
    for (const c of conns) void c.trickle(head, 25);
    const rounds = await probeWhile(url, Promise.all(conns.map((c) => c.untilClosed())));
    assert.ok(rounds >= 1);
    for (const c of conns) assert.match(c.data, /^HTTP\/1\.1 408 /);
    await probe(url, "after");
  });

  it("closes an HTTP/1.1 request whose body trickles past requestTimeoutMs, with 408", async () => {
    const c = await RawConn.open(port);
    // A Connect unary call: connect-node reads the whole body before it answers.
    c.write("POST /example.ExampleService/SayHello HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{");
    void c.trickle(" ".repeat(100_000), 25);
    await probeWhile(url, c.untilClosed());
    assert.match(c.data, /^HTTP\/1\.1 408 /);
  });

  it("closes connections that trickle the HTTP/2 preface (the sniffer cannot decide)", async () => {
    const c = await RawConn.open(port);
    void c.trickle(PREFACE, 100);
    await probeWhile(url, c.untilClosed());
    assert.equal(c.data, "", "nothing is answered to an undecided connection");
  });

  it("closes connections that send the HTTP/2 preface and then nothing", async () => {
    const conns = await Promise.all(Array.from({ length: 20 }, () => RawH2.connect(port)));
    await probeWhile(url, Promise.all(conns.map((c) => c.untilClosed())));
    for (const c of conns) assert.ok(c.closed);
  });

  it("closes an HTTP/2 connection whose first HEADERS never ends (no END_HEADERS)", async () => {
    const c = await RawH2.connect(port);
    // A header block cut short: CONTINUATION frames should follow, and never do.
    c.write(frame(T.HEADERS, F.END_STREAM, 1, headerBlock(grpcHeaders("/example.ExampleService/SayHello"))));
    await probeWhile(url, c.untilClosed());
    assert.ok(!c.frames.some((f) => f.type === T.HEADERS), "no response to an unfinished request");
  });

  it("frees the server's sockets once the slow clients are cut off", async () => {
    const before = serverSockets(port); // the probe's own keep-alive connections
    const conns = await Promise.all(Array.from({ length: 30 }, () => RawConn.open(port)));
    for (const c of conns) c.write("GET / HTTP/1.1\r\n");
    await Promise.all(conns.map((c) => c.untilClosed()));
    assert.ok(serverSockets(port) <= before + 30);
    await eventually(() => serverSockets(port) <= before, "the server holds no socket of the slow clients");
    await probe(url, "after");
  });
});

describe("slowloris on TLS", { timeout: 60_000 }, async () => {
  const tls = selfSignedCert();
  const { url, port } = await startServer({ tls, limits });

  it("closes connections that never start the TLS handshake", async () => {
    const conns = await Promise.all(Array.from({ length: 10 }, () => RawConn.open(port)));
    await probeWhile(url, Promise.all(conns.map((c) => c.untilClosed())), tls.cert);
  });

  it("closes connections that stop in the middle of a ClientHello", async () => {
    const c = await RawConn.open(port);
    // A TLS record header announcing a 512-byte handshake message, then only its first bytes.
    c.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
    await probeWhile(url, c.untilClosed(), tls.cert);
  });

  it("closes an HTTP/2-over-TLS connection that sends the preface and then nothing", async () => {
    const { connect } = await import("node:tls");
    const socket = await new Promise<import("node:tls").TLSSocket>((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port, ca: tls.cert, servername: "localhost", ALPNProtocols: ["h2"] }, () => resolve(s));
      s.once("error", reject);
    });
    assert.equal(socket.alpnProtocol, "h2");
    socket.on("error", () => {});
    socket.resume(); // read, or the server's close is never seen
    socket.write(PREFACE);
    await probeWhile(url, new Promise<void>((r) => socket.once("close", () => r())), tls.cert);
  });

  it("closes an HTTP/1.1-over-TLS connection that trickles its headers", async () => {
    const { connect } = await import("node:tls");
    const socket = await new Promise<import("node:tls").TLSSocket>((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port, ca: tls.cert, servername: "localhost", ALPNProtocols: ["http/1.1"] }, () => resolve(s));
      s.once("error", reject);
    });
    let data = "";
    socket.on("data", (d: Buffer) => (data += d.toString("latin1")));
    socket.on("error", () => {});
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    let open = true;
    void closed.then(() => (open = false));
    void (async () => {
      for (const ch of "GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: " + "a".repeat(5000)) {
        if (!open) break;
        socket.write(ch);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    await probeWhile(url, closed, tls.cert);
    assert.match(data, /^HTTP\/1\.1 408 /);
  });
});
