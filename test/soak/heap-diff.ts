// Where a growing heap grew: two V8 heap snapshots summed up by object kind and constructor, and
// the kinds that grew most between them. Diagnostic output of `npm run soak -- --heap-diff`.

/** Count and bytes of one kind of heap object ("object Session", "string", "closure onAbort", ...). */
export interface HeapKind {
  count: number;
  bytes: number;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Sums a heap snapshot (the JSON text the inspector returns) by kind. */
export function summarize(text: string): Map<string, HeapKind> {
  const s = JSON.parse(text) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
  const out = new Map<string, HeapKind>();
  for (let i = 0; i < s.nodes.length; i += fields.length) {
    const type = types[s.nodes[i + iType]];
    // Objects and closures by constructor or function name; strings, code, arrays and the rest by type.
    const key = type === "object" || type === "closure" ? `${type} ${s.strings[s.nodes[i + iName]]}` : type;
    const k = out.get(key) ?? { count: 0, bytes: 0 };
    k.count++;
    k.bytes += s.nodes[i + iSize];
    out.set(key, k);
  }
  return out;
}

/** The `top` kinds whose bytes grew most from `before` to `after`, as table lines. */
export function growth(before: Map<string, HeapKind>, after: Map<string, HeapKind>, top = 15): string[] {
  const rows = [...after].map(([key, a]) => {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    return { key, dCount: a.count - b.count, dBytes: a.bytes - b.bytes, count: a.count };
  });
  rows.sort((x, y) => y.dBytes - x.dBytes);
  return rows.slice(0, top).map((r) => `  ${(r.dBytes >= 0 ? "+" : "") + (r.dBytes / 1024).toFixed(0)} KiB`.padEnd(16) + `${(r.dCount >= 0 ? "+" : "") + r.dCount}`.padStart(9) + ` objects (now ${r.count})  ${r.key.slice(0, 80)}`);
}
