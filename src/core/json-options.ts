import type { DescMessage, Registry } from "@bufbuild/protobuf";

const memo = new WeakMap<DescMessage, boolean>();

/**
 * Whether the proto3 JSON of a message type can depend on a type registry: it reaches a
 * google.protobuf.Any (whose JSON names and embeds the packed type) or an extendable message
 * (whose extensions are written from the registry). protobuf-es merges any options object with its
 * defaults on every call (two object copies per message), so writers pass none when this is false.
 */
export function needsRegistry(desc: DescMessage): boolean {
  let r = memo.get(desc);
  if (r === undefined) r = reaches(desc, new Set());
  return r;
}

function reaches(desc: DescMessage, visiting: Set<DescMessage>): boolean {
  const known = memo.get(desc);
  if (known !== undefined) return known;
  // A message type already on the path: its own fields answer for it.
  if (visiting.has(desc)) return false;
  visiting.add(desc);
  let r = desc.typeName === "google.protobuf.Any" || desc.proto.extensionRange.length > 0;
  for (const f of desc.fields) {
    if (r) break;
    const sub = f.fieldKind === "message" ? f.message : f.fieldKind === "list" && f.listKind === "message" ? f.message : f.fieldKind === "map" && f.mapKind === "message" ? f.message : undefined;
    if (sub !== undefined) r = reaches(sub, visiting);
  }
  visiting.delete(desc);
  // Only a complete answer is remembered (a cycle's member answered false while on the path).
  if (r || visiting.size === 0) memo.set(desc, r);
  return r;
}

const withRegistry = new WeakMap<Registry, { registry: Registry }>();

/** The write options for a message type: `{registry}` (one object per registry) only when its JSON can need one. */
export function jsonWriteOptions(desc: DescMessage, registry: Registry | undefined): { registry: Registry } | undefined {
  if (registry === undefined || !needsRegistry(desc)) return undefined;
  let o = withRegistry.get(registry);
  if (o === undefined) withRegistry.set(registry, (o = { registry }));
  return o;
}
