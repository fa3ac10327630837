import type { Template } from "./template.js";

/** A request path split into segments: raw (as sent) and percent-decoded (for matching). */
export interface SplitPath {
  raw: string[];
  decoded: string[];
}

/** Splits and decodes a request path; returns an error text for bad encoding or dot segments. */
export function splitPath(path: string): SplitPath | string {
  const raw = path.slice(1).split("/");
  const decoded: string[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const s = raw[i];
    let d = s;
    if (s.includes("%")) {
      try {
        d = decodeURIComponent(s);
      } catch {
        return `invalid percent-encoding in path segment "${s.slice(0, 64)}"`;
      }
    }
    // "." and ".." never name a resource; refusing them stops path traversal through a proxy or a handler.
    if (d === "." || d === "..") return `path segment "${d}" is not allowed`;
    decoded[i] = d;
  }
  return { raw, decoded };
}

/**
 * The values of a template's variables in a matched path, decoded as the spec says: a single-segment
 * variable is fully percent-decoded, a multi-segment one keeps "%2F" encoded so it stays one segment.
 */
export function extractVariables(t: Template, path: SplitPath): Array<[string[], string]> {
  const raw = path.raw.slice();
  if (t.verb) {
    // The trie split the decoded segment at its last ":"; in the raw one that colon may be ":" or
    // "%3A", and the verb itself may be percent-encoded, so cut at the last raw colon of either form.
    const last = raw[raw.length - 1];
    raw[raw.length - 1] = last.slice(0, Math.max(last.lastIndexOf(":"), last.toUpperCase().lastIndexOf("%3A")));
  }
  const out: Array<[string[], string]> = [];
  for (const v of t.variables) {
    if (!v.multi) {
      out.push([v.fieldPath, safeDecode(raw[v.start])]);
      continue;
    }
    const end = v.end === t.segments.length ? raw.length : v.end;
    const value = raw
      .slice(v.start, end)
      .map((s) => s.split(/%2F/i).map(safeDecode).join("%2F"))
      .join("/");
    out.push([v.fieldPath, value]);
  }
  return out;
}

// splitPath has already checked the encoding of every segment.
const safeDecode = (s: string) => (s.includes("%") ? decodeURIComponent(s) : s);
