// A oneport server in its own process for the attack tests and the attack bench, so its RSS and file
// descriptors are its own. Limits come as JSON in ATTACK_LIMITS / ATTACK_WS; prints {"port","pid"} once listening.
// Besides the example service it serves a firehose: SayHelloStream with count 0 streams 1 KiB
// messages until cancelled (for slow-reader attacks), then prints {"ended": name}.
import { Code, ConnectError } from "@connectrpc/connect";
import { service } from "../../../src/config.js";
import { ExampleService } from "../../../src/gen/example/example_pb.js";
import { createServer } from "../../../src/server.js";
import { exampleService } from "../../../src/services/example.js";

const example = exampleService();
const streamGreetings = (example.impl as unknown as { sayHelloStream: (...a: never[]) => AsyncIterable<{ message: string }> }).sayHelloStream;
const firehose = service(ExampleService, {
  ...(example.impl as object),
  async *sayHelloStream(req, ctx) {
    if (req.count !== 0) return yield* streamGreetings(req as never, ctx as never);
    const message = req.name.repeat(Math.ceil(1024 / Math.max(1, req.name.length))).slice(0, 1024);
    try {
      while (!ctx.signal.aborted) {
        yield { message };
        await new Promise((r) => setImmediate(r));
      }
      throw new ConnectError("cancelled", Code.Canceled);
    } finally {
      // Tells the test that the server let go of this stream.
      process.stdout.write(JSON.stringify({ ended: req.name }) + "\n");
    }
  },
});

const server = createServer({
  port: 0,
  services: [firehose],
  limits: JSON.parse(process.env.ATTACK_LIMITS ?? "{}"),
  ws: JSON.parse(process.env.ATTACK_WS ?? "{}"),
});
const { port } = await server.listen();
process.stdout.write(JSON.stringify({ port, pid: process.pid }) + "\n");
const stop = () => void server.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
