import type { Template } from "./template.js";

/** A request path split into segments: raw (as sent) and percent-decoded (for matching). */
export interface SplitPath {
  raw: string[];
  decoded: string[];
}

/** Splits and decodes a request path; returns an error text for bad encoding or dot segments. */
export function splitPath(path: string): SplitPath | string {
  const raw = path.slice(1).split("/");
  // Most paths have nothing to decode: then both views are one array (neither is ever mutated).
  if (path.indexOf("%") < 0) {
    for (let i = 0; i < raw.length; i++) if (isDot(raw[i])) return `path segment "${raw[i]}" is not allowed: "." and ".." cannot be path segments`;
    return { raw, decoded: raw };
  }
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
    // "." and ".." never name a resource; refusing them stops path traversal through a proxy or a
    // handler. A `**` value may turn "%2F" into "/" (see extractVariables), so the pieces between
    // encoded slashes are held to the same rule.
    if (d === "." || d === ".." || (d !== s && d.includes("/") && d.split("/").some(isDot))) return `path segment "${d.slice(0, 64)}" is not allowed: "." and ".." cannot be path segments`;
    decoded[i] = d;
  }
  return { raw, decoded };
}

/**
 * The values of a template's variables in a matched path. As google/api/http.proto says, a
 * single-segment variable is fully percent-decoded, and a multi-segment one is decoded except for
 * "%2F", which a client that expands it as `{+var}` only sends as data inside one segment.
 * One case is read the other way: a `**` that matched exactly ONE segment is fully decoded, "%2F"
 * becoming "/". That is how OpenAPI clients send a parameter holding "/" (OpenAPI 3.1 path
 * parameters cannot carry a raw "/", so Swagger UI, generated SDKs and encodeURIComponent all send
 * "%2F"), and /openapi.json documents each `**` as one such parameter.
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
    const deep = t.segments[v.end - 1].kind === "deep";
    const end = v.end === t.segments.length ? raw.length : v.end;
    const parts = raw.slice(v.start, end);
    // The `**` is the variable's last template segment; it matched one segment when the raw path ends right after it.
    const wholeTail = deep && end - (v.end - 1) === 1;
    const value = parts.map((s, i) => (wholeTail && i === parts.length - 1 ? safeDecode(s) : s.split(/%2F/i).map(safeDecode).join("%2F"))).join("/");
    out.push([v.fieldPath, value]);
  }
  return out;
}

const isDot = (s: string) => s === "." || s === "..";
// splitPath has already checked the encoding of every segment.
const safeDecode = (s: string) => (s.includes("%") ? decodeURIComponent(s) : s);
