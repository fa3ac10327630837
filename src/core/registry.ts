import type { DescFile, DescMethod, DescService } from "@bufbuild/protobuf";
import { createServiceImplSpec, type MethodImplSpec } from "@connectrpc/connect";
import type { ServiceRegistration } from "../config.js";

/** A method as every protocol adapter sees it: its path, descriptors and implementation. */
export interface RegisteredMethod {
  /** "/package.Service/Method", the gRPC and Connect request path. */
  readonly path: string;
  readonly service: DescService;
  readonly method: DescMethod;
  readonly spec: MethodImplSpec;
}

/** The services a server serves, indexed by request path. Built once at start-up. */
export class Registry {
  private readonly byPath = new Map<string, RegisteredMethod>();
  private readonly regs: ServiceRegistration[] = [];

  /** Adds a service; throws if a service of the same name is already registered. */
  add(reg: ServiceRegistration): void {
    if (this.regs.some((r) => r.service.typeName === reg.service.typeName)) {
      throw new Error(`service ${reg.service.typeName} is registered twice`);
    }
    this.regs.push(reg);
    const spec = createServiceImplSpec(reg.service, reg.impl);
    for (const method of reg.service.methods) {
      const path = `/${reg.service.typeName}/${method.name}`;
      this.byPath.set(path, { path, service: reg.service, method, spec: spec.methods[method.localName] });
    }
  }

  /** The method served at a request path ("/pkg.Service/Method"), if any. */
  lookup(path: string): RegisteredMethod | undefined {
    return this.byPath.get(path);
  }

  /** Every registered method, in registration order. */
  methods(): RegisteredMethod[] {
    return [...this.byPath.values()];
  }

  /** Every registration as given to add(). */
  registrations(): readonly ServiceRegistration[] {
    return this.regs;
  }

  /** Every registered service descriptor. */
  services(): DescService[] {
    return this.regs.map((r) => r.service);
  }

  /** The files that declare the registered services, with all their transitive dependencies. */
  files(): DescFile[] {
    const seen = new Map<string, DescFile>();
    const visit = (f: DescFile) => {
      if (seen.has(f.name)) return;
      seen.set(f.name, f);
      f.dependencies.forEach(visit);
    };
    this.regs.forEach((r) => visit(r.service.file));
    return [...seen.values()];
  }
}
