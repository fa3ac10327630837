import { toBinary, type DescExtension, type DescFile } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { service, type ServiceRegistration } from "../config.js";
import type { Registry } from "../core/registry.js";
import { ServerReflection as ServerReflectionV1, type ServerReflectionRequest } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";

// v1 and v1alpha are wire-identical; the implementation answers with plain init objects that
// either version's schema accepts.
type Answer = Record<string, unknown>;

/** gRPC server reflection (grpc.reflection.v1 and v1alpha) over the server's registry. */
export function reflectionServices(registry: Registry): ServiceRegistration[] {
  // The registry grows while services are added; the index is built at the first request.
  let index: FileIndex | undefined;
  const info = (reqs: AsyncIterable<ServerReflectionRequest>) => answerAll(reqs, () => (index ??= indexFiles(registry.files())), registry);
  return [
    service(ServerReflectionV1, { serverReflectionInfo: info as never }),
    service(ServerReflectionV1Alpha, { serverReflectionInfo: info as never }),
  ];
}

async function* answerAll(reqs: AsyncIterable<ServerReflectionRequest>, files: () => FileIndex, registry: Registry): AsyncGenerator<Answer> {
  // Like grpc-go, each file is sent once per stream; clients ask again for what they lack.
  const sent = new Set<string>();
  for await (const req of reqs) {
    yield { validHost: req.host, originalRequest: req, messageResponse: answer(req, files(), registry, sent) };
  }
}

function answer(req: ServerReflectionRequest, files: FileIndex, registry: Registry, sent: Set<string>): Answer {
  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: registry.services().map((s) => ({ name: s.typeName })) } };
    case "fileByFilename": {
      const file = files.byName.get(r.value);
      return file ? fileResponse(file, sent) : notFound(`file "${r.value}" not found`);
    }
    case "fileContainingSymbol": {
      const file = fileOfSymbol(files, r.value);
      return file ? fileResponse(file, sent) : notFound(`symbol "${r.value}" not found`);
    }
    case "fileContainingExtension": {
      const ext = files.extensions.find((e) => e.extendee.typeName === r.value.containingType && e.number === r.value.extensionNumber);
      return ext ? fileResponse(ext.file, sent) : notFound(`extension ${r.value.extensionNumber} of "${r.value.containingType}" not found`);
    }
    case "allExtensionNumbersOfType": {
      if (!files.bySymbol.has(r.value)) return notFound(`type "${r.value}" not found`);
      const numbers = files.extensions.filter((e) => e.extendee.typeName === r.value).map((e) => e.number);
      return { case: "allExtensionNumbersResponse", value: { baseTypeName: r.value, extensionNumber: numbers } };
    }
    default:
      return { case: "errorResponse", value: { errorCode: Code.InvalidArgument, errorMessage: "empty or unknown reflection request" } };
  }
}

/** Files by name, and the file of every fully qualified symbol (types, services, methods, fields, enum values). */
interface FileIndex {
  byName: Map<string, DescFile>;
  bySymbol: Map<string, DescFile>;
  extensions: DescExtension[];
}

function indexFiles(list: DescFile[]): FileIndex {
  const index: FileIndex = { byName: new Map(), bySymbol: new Map(), extensions: [] };
  for (const file of list) {
    index.byName.set(file.proto.name, file);
    const add = (name: string) => index.bySymbol.set(name, file);
    if (file.proto.package) add(file.proto.package);
    for (const t of nestedTypes(file)) {
      add(t.typeName);
      if (t.kind === "message") t.fields.forEach((f) => add(`${t.typeName}.${f.name}`));
      if (t.kind === "extension") index.extensions.push(t);
    }
    for (const s of file.services) {
      add(s.typeName);
      s.methods.forEach((m) => add(`${s.typeName}.${m.name}`));
    }
  }
  return index;
}

function fileOfSymbol(files: FileIndex, symbol: string): DescFile | undefined {
  return files.bySymbol.get(symbol.replace(/^\./, ""));
}

// The file and its transitive dependencies that this stream has not sent yet.
function fileResponse(file: DescFile, sent: Set<string>): Answer {
  const out: Uint8Array[] = [];
  const visit = (f: DescFile, root: boolean) => {
    if (!root && sent.has(f.proto.name)) return;
    sent.add(f.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    f.dependencies.forEach((d) => visit(d, false));
  };
  visit(file, true);
  return { case: "fileDescriptorResponse", value: { fileDescriptorProto: out } };
}

function notFound(message: string): Answer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: message } };
}
