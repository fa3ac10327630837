import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DescFile } from "@bufbuild/protobuf";
import protobuf from "protobufjs";

/** Leading comments of .proto declarations by full name ("pkg.Msg", "pkg.Msg.field", "pkg.Svc.Method", "pkg.Enum.VALUE"). */
export type Comments = ReadonlyMap<string, string>;

/**
 * Reads the comments of the given files from their .proto sources. Generated descriptors carry no
 * source info, so the sources are looked up under `dirs` (by the file's import path); a file not
 * found there simply has no descriptions.
 */
export function loadComments(files: readonly DescFile[], dirs: readonly string[]): Comments {
  const out = new Map<string, string>();
  for (const f of files) {
    const file = f.proto.name; // "example/example.proto" (DescFile.name drops the suffix)
    const dir = dirs.find((d) => existsSync(join(d, file)));
    if (!dir) continue;
    let root: protobuf.Root;
    try {
      root = protobuf.parse(readFileSync(join(dir, file), "utf8"), { alternateCommentMode: true, keepCase: true }).root;
    } catch {
      continue; // a source that protobufjs cannot read only loses its descriptions
    }
    collect(root, out);
  }
  return out;
}

function collect(ns: protobuf.NamespaceBase, out: Map<string, string>): void {
  for (const obj of ns.nestedArray) {
    const name = obj.fullName.replace(/^\./, "");
    if (obj.comment) out.set(name, obj.comment.trim());
    if (obj instanceof protobuf.Type) for (const f of obj.fieldsArray) if (f.comment) out.set(`${name}.${f.name}`, f.comment.trim());
    if (obj instanceof protobuf.Service) for (const m of obj.methodsArray) if (m.comment) out.set(`${name}.${m.name}`, m.comment.trim());
    if (obj instanceof protobuf.Enum) for (const [k, c] of Object.entries(obj.comments)) if (c) out.set(`${name}.${k}`, c.trim());
    if (obj instanceof protobuf.Namespace) collect(obj, out);
  }
}
