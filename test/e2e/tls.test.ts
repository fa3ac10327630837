import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { connect as tlsConnect } from "node:tls";
import { after, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createGrpcJsClient } from "../../src/client/grpc-js.js";
import { ExampleService, type HelloResponse } from "../../src/gen/example/example_pb.js";
import { startServer } from "../support/server.js";
import { selfSignedCert } from "../support/tls.js";

const tls = selfSignedCert();
const { url, port } = await startServer({ tls });
const nodeOptions = { ca: tls.cert };

describe("TLS on the unified port", () => {
  it("serves gRPC over h2 (ALPN) to @grpc/grpc-js", async () => {
    const client = createGrpcJsClient(ExampleService, `localhost:${port}`, grpc.credentials.createSsl(tls.cert));
    after(() => client.close());
    const res = await new Promise<HelloResponse>((resolve, reject) =>
      (client.sayHello as (r: object, cb: (e: Error | null, r: HelloResponse) => void) => void)({ name: "Tls" }, (e, r) => (e ? reject(e) : resolve(r))),
    );
    assert.equal(res.message, "Hello, Tls");
  });

  it("serves Connect over HTTP/1.1 and HTTP/2 on the same port", async () => {
    for (const httpVersion of ["1.1", "2"] as const) {
      const client = createClient(ExampleService, createConnectTransport({ baseUrl: url, httpVersion, nodeOptions }));
      assert.equal((await client.sayHello({ name: httpVersion })).message, `Hello, ${httpVersion}`);
    }
    const grpcClient = createClient(ExampleService, createGrpcTransport({ baseUrl: url, nodeOptions }));
    assert.equal((await grpcClient.sayHello({ name: "g" })).message, "Hello, g");
  });

  it("negotiates h2 and http/1.1 by ALPN", async () => {
    const h1 = await new Promise<{ head: string; alpn: string | false | null }>((resolve, reject) => {
      const socket = tlsConnect({ host: "127.0.0.1", port, ca: tls.cert, servername: "localhost", ALPNProtocols: ["http/1.1"] }, () => {
        socket.write("GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
      });
      let text = "";
      socket.on("data", (d) => (text += d.toString("latin1")));
      socket.on("end", () => resolve({ head: text.split("\r\n")[0], alpn: socket.alpnProtocol }));
      socket.on("error", reject);
    });
    assert.deepEqual(h1, { head: "HTTP/1.1 200 OK", alpn: "http/1.1" });
    const session = http2.connect(url, { ca: tls.cert });
    after(() => session.close());
    const status = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ":path": "/healthz" });
      req.on("response", (h) => resolve(Number(h[":status"])));
      req.on("error", reject);
      req.resume();
    });
    assert.equal(status, 200);
    assert.equal(session.alpnProtocol, "h2");
  });
});
