/**
 * Path templates of google.api.HttpRule, parsed by a small recursive-descent parser.
 *
 * Grammar (google/api/http.proto):
 *
 *     Template = "/" Segments [ Verb ] ;
 *     Segments = Segment { "/" Segment } ;
 *     Segment  = "*" | "**" | LITERAL | Variable ;
 *     Variable = "{" FieldPath [ "=" Segments ] "}" ;
 *     FieldPath = IDENT { "." IDENT } ;
 *     Verb     = ":" LITERAL ;
 *
 * Extra rules from the spec: `**` may only be the last segment, variables do not nest, and
 * `{var}` means `{var=*}`. Errors name the template and the 1-based column.
 */

/** One segment of a template: a literal, `*` (one segment) or `**` (the rest of the path). */
export type Segment = { kind: "literal"; value: string } | { kind: "wildcard" } | { kind: "deep" };

/** A `{field.path=...}` variable: which segments it captures. */
export interface Variable {
  /** The field path, split on dots ("a.b.c" -> ["a","b","c"]). */
  readonly fieldPath: string[];
  /** Index of the first captured segment. */
  readonly start: number;
  /** Index after the last captured segment (for `**`, the end of the path). */
  readonly end: number;
  /** Whether the variable spans more than one segment (then "%2F" stays encoded, as the spec says). */
  readonly multi: boolean;
}

/** A parsed template. */
export interface Template {
  readonly source: string;
  readonly segments: Segment[];
  readonly variables: Variable[];
  /** The `:verb` suffix without the colon, or "". */
  readonly verb: string;
}

/** A template that does not follow the grammar; `column` is 1-based. */
export class TemplateError extends Error {
  constructor(
    readonly template: string,
    readonly column: number,
    reason: string,
  ) {
    super(`invalid path template "${template}" at column ${column}: ${reason}`);
    this.name = "TemplateError";
  }
}

// pchar of RFC 3986 without the characters the grammar gives meaning to ("/", ":", "*", "{", "}", "=").
const LITERAL = /[A-Za-z0-9\-._~%!$&'()+,;@]/;
const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;

/** Parses a template; throws TemplateError with the column of the first problem. */
export function parseTemplate(source: string): Template {
  let pos = 0;
  const segments: Segment[] = [];
  const variables: Variable[] = [];
  const fail = (reason: string, at = pos): never => {
    throw new TemplateError(source, at + 1, reason);
  };
  const peek = () => source[pos];
  const expect = (c: string) => {
    if (source[pos] !== c) fail(pos >= source.length ? `expected "${c}", got the end` : `expected "${c}", got "${source[pos]}"`);
    pos++;
  };
  const literal = (what: string): string => {
    const start = pos;
    while (pos < source.length && LITERAL.test(source[pos])) pos++;
    if (pos === start) fail(pos >= source.length ? `expected ${what}, got the end` : `expected ${what}, got "${source[pos]}"`);
    const text = source.slice(start, pos);
    if (/%(?![0-9A-Fa-f]{2})/.test(text)) fail("invalid percent-encoding", start + text.search(/%(?![0-9A-Fa-f]{2})/));
    return text;
  };
  const segment = (inVariable: boolean): void => {
    if (segments.length > 0 && segments[segments.length - 1].kind === "deep") fail('"**" must be the last segment');
    if (peek() === "*") {
      pos++;
      if (peek() === "*") {
        pos++;
        segments.push({ kind: "deep" });
      } else segments.push({ kind: "wildcard" });
      return;
    }
    if (peek() === "{") {
      if (inVariable) fail("variables cannot nest");
      return variable();
    }
    segments.push({ kind: "literal", value: literal("a literal, *, ** or {variable}") });
  };
  const segmentList = (inVariable: boolean): void => {
    segment(inVariable);
    while (peek() === "/") {
      pos++;
      segment(inVariable);
    }
  };
  const variable = (): void => {
    const open = pos;
    expect("{");
    const fieldPath: string[] = [];
    for (;;) {
      IDENT.lastIndex = pos;
      const m = IDENT.exec(source);
      if (!m) fail("expected a field name");
      fieldPath.push(m![0]);
      pos += m![0].length;
      if (peek() !== ".") break;
      pos++;
    }
    const start = segments.length;
    if (peek() === "=") {
      pos++;
      segmentList(true);
    } else segments.push({ kind: "wildcard" });
    expect("}");
    const name = fieldPath.join(".");
    if (variables.some((v) => v.fieldPath.join(".") === name)) fail(`variable "${name}" appears twice`, open);
    const captured = segments.slice(start);
    const multi = captured.length > 1 || captured.some((s) => s.kind === "deep");
    variables.push({ fieldPath, start, end: segments.length, multi });
  };

  expect("/");
  segmentList(false);
  let verb = "";
  if (peek() === ":") {
    pos++;
    verb = literal("a verb");
  }
  if (pos < source.length) fail(`unexpected "${source[pos]}"`);
  return { source, segments, variables, verb };
}

/** Prints a template in canonical form (`{a}` rather than `{a=*}`); parseTemplate(print(t)) equals t. */
export function printTemplate(t: Pick<Template, "segments" | "variables" | "verb">): string {
  const seg = (s: Segment) => (s.kind === "literal" ? s.value : s.kind === "wildcard" ? "*" : "**");
  const parts: string[] = [];
  for (let i = 0; i < t.segments.length; ) {
    const v = t.variables.find((x) => x.start === i);
    if (!v) {
      parts.push(seg(t.segments[i++]));
      continue;
    }
    const inner = t.segments.slice(v.start, v.end);
    const name = v.fieldPath.join(".");
    parts.push(inner.length === 1 && inner[0].kind === "wildcard" ? `{${name}}` : `{${name}=${inner.map(seg).join("/")}}`);
    i = v.end;
  }
  return "/" + parts.join("/") + (t.verb ? ":" + t.verb : "");
}
