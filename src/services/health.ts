import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { service, type ServiceRegistration } from "../config.js";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as Status,
  type HealthCheckResponse,
} from "../gen/grpc/health/v1/health_pb.js";

export { HealthCheckResponse_ServingStatus as ServingStatus } from "../gen/grpc/health/v1/health_pb.js";

/** Serving status per service name ("" is the server as a whole), with change notification. */
export class HealthState {
  private readonly statuses = new Map<string, Status>();
  private readonly listeners = new Set<(service: string) => void>();

  /** Sets a service's status and wakes its watchers if it changed. */
  set(serviceName: string, status: Status): void {
    if (this.statuses.get(serviceName) === status) return;
    this.statuses.set(serviceName, status);
    for (const l of this.listeners) l(serviceName);
  }

  /** Sets every known service (and the server) to one status, e.g. NOT_SERVING at shutdown. */
  setAll(status: Status): void {
    for (const name of [...this.statuses.keys()]) this.set(name, status);
  }

  /** The status of a service, or undefined when the service is unknown. */
  get(serviceName: string): Status | undefined {
    return this.statuses.get(serviceName);
  }

  /** Every known service and its status. */
  entries(): [string, Status][] {
    return [...this.statuses.entries()];
  }

  /** Yields the current status of a service, then each change, until the signal aborts. */
  async *watch(serviceName: string, signal: AbortSignal): AsyncGenerator<Status> {
    let wake: (() => void) | undefined;
    let changed = true;
    const listener = (name: string) => {
      if (name !== serviceName) return;
      changed = true;
      wake?.();
    };
    const onAbort = () => wake?.();
    this.listeners.add(listener);
    signal.addEventListener("abort", onAbort);
    try {
      let last: Status | undefined;
      while (!signal.aborted) {
        if (changed) {
          changed = false;
          const now = this.get(serviceName) ?? Status.SERVICE_UNKNOWN;
          if (now !== last) {
            last = now;
            yield now;
            continue;
          }
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.listeners.delete(listener);
      signal.removeEventListener("abort", onAbort);
    }
  }
}

/** The grpc.health.v1.Health service over a HealthState. */
export function healthService(state: HealthState): ServiceRegistration {
  const response = (status: Status): HealthCheckResponse => create(HealthCheckResponseSchema, { status });
  return service(Health, {
    check(req) {
      const status = state.get(req.service);
      if (status === undefined) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      return response(status);
    },
    async *watch(req, ctx: HandlerContext) {
      for await (const status of state.watch(req.service, ctx.signal)) yield response(status);
    },
    list() {
      return { statuses: Object.fromEntries(state.entries().map(([k, v]) => [k, response(v)])) };
    },
  });
}
