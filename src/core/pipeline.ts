import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextKey,
  createContextValues,
  createHandlerContext,
  type ContextValues,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import { invokeUnaryImplementation, transformInvokeImplementation } from "@connectrpc/connect/protocol";
import type { RegisteredMethod } from "./registry.js";

/** The protocol a call arrived on: "grpc", "grpc-web", "connect", "rest" or "ws". */
export const protocolKey = createContextKey<string>("", { description: "oneport protocol" });

/** What a protocol adapter knows about a call before it invokes it. */
export interface CallInit {
  protocol: string;
  requestMethod: string;
  url: string;
  requestHeader: Headers | HeadersInit;
  /** Aborts the call when the client goes away. */
  requestSignal?: AbortSignal;
  /** The deadline the client asked for, already capped by the server's limit. */
  timeoutMs?: number;
  contextValues?: ContextValues;
}

/**
 * The one place every protocol calls into: builds the HandlerContext and runs the implementation
 * through the interceptor chain. Adapters only translate wire formats to and from this.
 */
export class Pipeline {
  constructor(
    readonly interceptors: Interceptor[],
    private readonly shutdownSignal: AbortSignal,
    private readonly maxTimeoutMs: number,
  ) {}

  /** Creates the context of one call; `abort()` it when the call is over. */
  context(m: RegisteredMethod, init: CallInit): HandlerContext & { abort(reason?: unknown): void } {
    const values = init.contextValues ?? createContextValues();
    values.set(protocolKey, init.protocol);
    let timeoutMs = init.timeoutMs;
    if (this.maxTimeoutMs > 0 && (timeoutMs === undefined || timeoutMs > this.maxTimeoutMs)) timeoutMs = this.maxTimeoutMs;
    return createHandlerContext({
      service: m.service,
      method: m.method,
      protocolName: init.protocol,
      requestMethod: init.requestMethod,
      url: init.url,
      timeoutMs,
      shutdownSignal: this.shutdownSignal,
      requestSignal: init.requestSignal,
      requestHeader: init.requestHeader,
      contextValues: values,
    });
  }

  /** Invokes a unary method (or a server-streaming one's single request is given to stream()). */
  unary(m: RegisteredMethod, ctx: HandlerContext, input: MessageShape<DescMessage>): Promise<MessageShape<DescMessage>> {
    if (m.spec.kind !== "unary") throw new ConnectError(`${m.path} is not a unary method`, Code.Internal);
    return invokeUnaryImplementation(m.spec, ctx, input, this.interceptors);
  }

  /** Invokes any method kind with a stream of requests; yields the responses. */
  stream(m: RegisteredMethod, ctx: HandlerContext, input: AsyncIterable<MessageShape<DescMessage>>): AsyncIterable<MessageShape<DescMessage>> {
    return transformInvokeImplementation(m.spec, ctx, this.interceptors)(input);
  }
}
