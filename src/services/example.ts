import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { service, type ServiceRegistration } from "../config.js";
import { ExampleService, type HelloRequest } from "../gen/example/example_pb.js";

/** The greeting the course's API answers with. */
export function greet(name: string): string {
  if (name === "") throw new ConnectError("name must not be empty: send HelloRequest{name: \"Bob\"}", Code.InvalidArgument);
  return `Hello, ${name}`;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(ConnectError.from(signal.reason));
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(ConnectError.from(signal.reason, Code.Canceled));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });

/** ExampleService: SayHello (the course's RPC) plus one method of each streaming kind. */
export function exampleService(): ServiceRegistration {
  return service(ExampleService, {
    sayHello(req: HelloRequest) {
      return { message: greet(req.name) };
    },
    async *sayHelloStream(req, ctx: HandlerContext) {
      const count = req.count === 0 ? 3 : req.count;
      if (count > 100) throw new ConnectError("count must be at most 100", Code.InvalidArgument);
      if (req.intervalMs > 10_000) throw new ConnectError("interval_ms must be at most 10000", Code.InvalidArgument);
      const message = greet(req.name);
      for (let i = 0; i < count; i++) {
        if (i > 0 && req.intervalMs > 0) await sleep(req.intervalMs, ctx.signal);
        yield { message: `${message} (${i + 1}/${count})` };
      }
    },
    async collectNames(reqs: AsyncIterable<HelloRequest>) {
      const names: string[] = [];
      for await (const r of reqs) {
        greet(r.name);
        names.push(r.name);
      }
      if (names.length === 0) throw new ConnectError("send at least one name", Code.InvalidArgument);
      return { message: greet(names.join(", ")) };
    },
    async *chatter(reqs: AsyncIterable<HelloRequest>) {
      for await (const r of reqs) yield { message: greet(r.name) };
    },
  });
}
