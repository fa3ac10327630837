// The course's exercise 1, done with @grpc/grpc-js: a CLI client for ExampleService whose schema comes
// from the generated code (src/gen), not from hand-written descriptors.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { createGrpcJsClient } from "./client/grpc-js.js";
import { ExampleService, type HelloResponse } from "./gen/example/example_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "./gen/grpc/health/v1/health_pb.js";

const usage = `Usage: npx tsx src/client.ts [options] COMMAND [ARGS]

Commands:
  hello NAME            SayHello (unary): prints "Hello, NAME"
  stream NAME [COUNT]   SayHelloStream (server streaming): one greeting per line
  collect NAME...       CollectNames (client streaming): one greeting for all names
  chatter NAME...       Chatter (bidi): a greeting per name as it arrives
  health [SERVICE]      grpc.health.v1 Check ("" = the whole server)

Options:
  --addr HOST:PORT      server address [ONEPORT_ADDR, default 127.0.0.1:8080]
  --tls                 use TLS (with --ca FILE to trust a self-signed certificate)
  --ca FILE             PEM CA certificate to trust
  --timeout-ms N        deadline for the call [default 10000]
  -h, --help            show this text
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`oneport-client: ${message}\n`);
  process.exit(code);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      addr: { type: "string" },
      tls: { type: "boolean" },
      ca: { type: "string" },
      "timeout-ms": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
} catch (e) {
  fail(`${(e as Error).message}\n${usage}`);
}
const { values, positionals } = parsed;
if (values.help || positionals.length === 0) {
  process.stdout.write(usage);
  process.exit(values.help ? 0 : 2);
}
const addr = values.addr ?? process.env.ONEPORT_ADDR ?? "127.0.0.1:8080";
const timeoutMs = Number(values["timeout-ms"] ?? 10_000);
if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) fail(`--timeout-ms must be a positive integer, got "${values["timeout-ms"]}"`);
const creds = values.tls || values.ca ? grpc.credentials.createSsl(values.ca ? readFileSync(values.ca) : undefined) : grpc.credentials.createInsecure();
const deadline = () => new Date(Date.now() + timeoutMs);
const [command, ...args] = positionals;

type Callback<T> = (err: grpc.ServiceError | null, res: T) => void;
const onError = (err: grpc.ServiceError) => fail(`${grpc.status[err.code] ?? err.code}: ${err.details}`, 1);

const example = createGrpcJsClient(ExampleService, addr, creds);
switch (command) {
  case "hello": {
    if (args.length !== 1) fail("usage: hello NAME");
    (example.sayHello as (req: object, md: grpc.Metadata, o: grpc.CallOptions, cb: Callback<HelloResponse>) => void)(
      { name: args[0] },
      new grpc.Metadata(),
      { deadline: deadline() },
      (err, res) => (err ? onError(err) : console.log(res.message)),
    );
    break;
  }
  case "stream": {
    if (args.length < 1 || args.length > 2) fail("usage: stream NAME [COUNT]");
    const call = (example.sayHelloStream as (req: object, o: grpc.CallOptions) => grpc.ClientReadableStream<HelloResponse>)(
      { name: args[0], count: Number(args[1] ?? 3) },
      { deadline: deadline() },
    );
    call.on("data", (r: HelloResponse) => console.log(r.message));
    call.on("error", onError);
    break;
  }
  case "collect": {
    if (args.length === 0) fail("usage: collect NAME...");
    const call = (example.collectNames as (o: grpc.CallOptions, cb: Callback<HelloResponse>) => grpc.ClientWritableStream<object>)(
      { deadline: deadline() },
      (err, res) => (err ? onError(err) : console.log(res.message)),
    );
    for (const name of args) call.write({ name });
    call.end();
    break;
  }
  case "chatter": {
    if (args.length === 0) fail("usage: chatter NAME...");
    const call = (example.chatter as (o: grpc.CallOptions) => grpc.ClientDuplexStream<object, HelloResponse>)({ deadline: deadline() });
    call.on("data", (r: HelloResponse) => console.log(r.message));
    call.on("error", onError);
    for (const name of args) call.write({ name });
    call.end();
    break;
  }
  case "health": {
    const health = createGrpcJsClient(Health, addr, creds);
    (health.check as (req: object, o: grpc.CallOptions, cb: Callback<{ status: number }>) => void)(
      { service: args[0] ?? "" },
      { deadline: deadline() },
      (err, res) => (err ? onError(err) : console.log(HealthCheckResponse_ServingStatus[res.status])),
    );
    break;
  }
  default:
    fail(`unknown command "${command}"\n${usage}`);
}
