// Pure-function fuzzing of the REST transcoder's parsers: path templates, the route trie, path
// splitting and variable extraction, query and body binding, scalar and well-known-type values.
// test/rest/properties.test.ts and test/rest/template.test.ts hold the server-level and round-trip
// properties; these add mutated real inputs, a reference matcher as oracle, and many more runs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createRegistry, ScalarType } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { DurationSchema, FieldMaskSchema, TimestampSchema, Int32ValueSchema, BoolValueSchema, BytesValueSchema, UInt64ValueSchema } from "@bufbuild/protobuf/wkt";
import { Registry } from "../../src/core/registry.js";
import { EchoRequestSchema, Kind, KindSchema } from "../../src/gen/oneport/testing/v1/transcoding_pb.js";
import { isRestError } from "../../src/rest/errors.js";
import { parseTimeout } from "../../src/rest/headers.js";
import { extractVariables, splitPath } from "../../src/rest/path.js";
import { bindQuery, parseQuery, QueryError } from "../../src/rest/query.js";
import { decodeRequest } from "../../src/rest/request.js";
import { buildRoutes, type RestRoute } from "../../src/rest/routes.js";
import { parseTemplate, printTemplate, TemplateError, type Segment } from "../../src/rest/template.js";
import { parseEnum, parseMessage, parseScalar, ValueError } from "../../src/rest/values.js";
import { exampleService } from "../../src/services/example.js";
import { transcodingService } from "../rest/transcoding-service.js";
import { budget, junkText, mutated, mutatedText } from "./support.js";

const registry = new Registry();
registry.add(exampleService());
registry.add(transcodingService());
const { trie, list: routes } = buildRoutes(registry.methods());
const types = createRegistry(...registry.files());
const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "SEARCH", "HEAD", "OPTIONS"];

/** Reference matcher: does a template match these decoded segments (with `verb` split off)? */
function matches(segs: Segment[], path: string[], verb: string, want: string): boolean {
  if (verb !== want) return false;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    if (s.kind === "deep") return i === segs.length - 1;
    if (i >= path.length) return false;
    if (s.kind === "literal" && s.value !== path[i]) return false;
  }
  return segs.length === path.length;
}

/** The candidate (segments, verb) splits of a path, as the trie reads a trailing ":verb". */
function splits(decoded: string[]): Array<[string[], string]> {
  const out: Array<[string[], string]> = [];
  const last = decoded[decoded.length - 1] ?? "";
  const c = last.lastIndexOf(":");
  // Unsplit first: a route without a verb takes the whole last segment, colons and all.
  out.push([decoded, ""]);
  if (c >= 0) out.push([[...decoded.slice(0, -1), last.slice(0, c)], last.slice(c + 1)]);
  return out;
}

/** A concrete request path for a route: "x" for each `*`, "y" for `**`, plus its verb. */
function samplePath(r: RestRoute): string {
  return "/" + r.segments.map((s) => (s.kind === "literal" ? s.value : s.kind === "wildcard" ? "x" : "y")).join("/") + (r.verb ? ":" + r.verb : "");
}

// Path pieces near the real routes, with the characters that have meaning: %, :, /, . and encodings.
const seg = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("v1", "echo", "hello", "rooms", "projects", "files", "nested", "message", "stream", "uploads", "downloads", "count", "fail", "sleep", "metadata", "sum", "p", "r1") },
  { weight: 2, arbitrary: fc.constantFrom("", ".", "..", "%2e", "%2E%2e", "%2F", "%2f", "%3A", "%3a", "%", "%z", "%4", "%C3%A9", "%FF", ":archive", "x:archive", "x%3Aarchive", "x%3aarchive", "%3Aarchive", "r1%3A%61rchive", "echo:search", "a:b:c", "%00") },
  { weight: 2, arbitrary: junkText("aZ09-_.~%:+!$&'()*,;=@2FAe", 10) },
);
const rawPath = fc.array(seg, { minLength: 1, maxLength: 7 }).map((s) => "/" + s.join("/"));

describe("REST parsers under fuzzing", () => {
  it("parses mutated real templates into a Template that prints back, or a TemplateError with a column", () => {
    const seeds = routes.map((r) => r.template.source).concat(["/v1/{a.b=x/*/y/**}:verb", "/{name=**}", "/a/{b}/c:d"]);
    fc.assert(
      fc.property(fc.oneof(mutatedText(seeds, { maxOps: 3 }), junkText("/{}=*.:%ab1_-", 30)), (s) => {
        let t;
        try {
          t = parseTemplate(s);
        } catch (e) {
          assert.ok(e instanceof TemplateError, `not a TemplateError: ${String(e)}`);
          assert.ok(e.column >= 1 && e.column <= s.length + 1, `column ${e.column} of ${JSON.stringify(s)}`);
          return;
        }
        assert.deepEqual(parseTemplate(printTemplate(t)), { ...t, source: printTemplate(t) });
      }),
      budget(4000, 2000),
    );
  });

  it("splits any request path into segments or a reason, never throwing", () => {
    fc.assert(
      fc.property(fc.oneof(rawPath, junkText("/%.:aZ09", 40).map((s) => "/" + s)), (p) => {
        const r = splitPath(p);
        if (typeof r === "string") return assert.ok(r.length > 0 && r.length < 200);
        assert.equal(r.raw.join("/"), p.slice(1));
        r.decoded.forEach((d, i) => assert.equal(d, decodeURIComponent(r.raw[i])));
        assert.ok(!r.decoded.includes(".") && !r.decoded.includes(".."));
      }),
      budget(5000, 1200),
    );
  });

  it("finds exactly the routes a reference matcher finds, and extracts their variables without throwing", () => {
    fc.assert(
      fc.property(rawPath, fc.constantFrom(...methods), (p, method) => {
        const split = splitPath(p);
        if (typeof split === "string") return;
        const found = trie.lookup(method, split.decoded);
        const candidates = routes.filter((r) => splits(split.decoded).some(([segs, verb]) => matches(r.segments, segs, verb, r.verb)));
        const forMethod = candidates.filter((r) => r.httpMethod === method || r.httpMethod === "*");
        if (found.route) {
          assert.ok(forMethod.includes(found.route), `${method} ${p} matched ${found.route.label}, which the reference rejects`);
          // Every variable of the matched route extracts: the decoder must cope with what the trie accepted.
          const t = found.route.template;
          const vars = extractVariables(t, split);
          assert.equal(vars.length, t.variables.length);
          // A one-segment variable is that segment, fully decoded (with the verb split off).
          const [segs] = splits(split.decoded).find(([s, verb]) => matches(t.segments, s, verb, t.verb))!;
          t.variables.forEach((v, i) => v.multi || assert.equal(vars[i][1], segs[v.start], `${p}: variable ${v.fieldPath.join(".")}`));
        } else {
          assert.deepEqual(forMethod, [], `${method} ${p}: the trie missed ${forMethod.map((r) => r.label).join(", ")}`);
          for (const m of found.allowed) assert.ok(candidates.some((r) => r.httpMethod === m), `${p}: Allow lists ${m} wrongly`);
        }
      }),
      budget(6000, 2500, [["/v1/rooms/r1%3A%61rchive", "POST"], ["/v1/sleep/%3A", "GET"], ["/v1/sleep/5:", "GET"]]),
    );
  });

  it("binds random query strings into EchoRequest or throws a QueryError naming the parameter", () => {
    const names = ["id", "kind", "flag", "big", "ubig", "small", "ratio", "fraction", "blob", "at", "wait", "mask", "maybeInt", "maybe_int", "maybe_string", "maybeBool", "tags", "numbers", "kinds", "note", "count", "labels", "left", "right", "nested", "nested.label", "nested.depth", "nested.deeper", "nested.deeper.value", "nested.items", "nested.deeper.value.x", "id.x", "tags.x", "labels.k", "__proto__", "constructor", "toString", "nested.__proto__"];
    const values = fc.oneof(junkText("%+&=.-_:0123456789aeEfINtrunlsKAPH ", 16), fc.constantFrom("1", "-1", "+1", "0x10", "1e3", "1.5", "NaN", "Infinity", "-Infinity", "true", "false", "KIND_ALPHA", "KIND_BETA", "7", "2024-01-01T00:00:00Z", "2024-13-01T00:00:00Z", "1s", "-1.5s", "315576000001s", "a,b.c", "aGk=", "aGk", "a-_b", "99999999999999999999", "18446744073709551616", "-9223372036854775809", "3.5e38", "%", "%zz", "%E9"));
    const pair = fc.tuple(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: junkText("a.=%&+_", 8) }), values);
    const query = fc.oneof(fc.array(pair, { maxLength: 6 }).map((ps) => ps.map(([k, v]) => `${k}=${v}`).join("&")), junkText("a=&%+.1", 40));
    fc.assert(
      fc.property(query, fc.boolean(), (q, bodyStar) => {
        const msg = reflect(EchoRequestSchema);
        try {
          bindQuery(msg, parseQuery(q), new Set(["id"]), bodyStar);
        } catch (e) {
          assert.ok(e instanceof QueryError, `not a QueryError: ${String(e)} for ${q}`);
          assert.ok(e.message.length < 400, e.message);
        }
      }),
      // Regression: a lone surrogate in a string value made protobuf-es throw its own error (seed 1738519660).
      budget<[string, boolean]>(6000, 2500, [["note=\uD800", false], ["nested.label=a\uDC00b", false], ["tags=\uD83D", false]]),
    );
  });

  it("parses every scalar type, enum and text well-known type from any text, or throws a ValueError", () => {
    const scalars = Object.values(ScalarType).filter((v): v is ScalarType => typeof v === "number");
    const wkts = [TimestampSchema, DurationSchema, FieldMaskSchema, Int32ValueSchema, BoolValueSchema, BytesValueSchema, UInt64ValueSchema];
    const text = fc.oneof(junkText("0123456789+-.eE:TZsnNaIfity,_ ", 24), fc.string({ maxLength: 12 }), fc.bigInt().map(String), fc.double().map(String));
    fc.assert(
      fc.property(fc.nat(scalars.length + wkts.length), text, (i, s) => {
        try {
          if (i < scalars.length) {
            const v = parseScalar(scalars[i], s);
            if (scalars[i] === ScalarType.INT32) assert.ok(Number.isInteger(v) && (v as number) >= -(2 ** 31) && (v as number) < 2 ** 31);
            if (scalars[i] === ScalarType.UINT64) assert.ok(typeof v === "bigint" && v >= 0n && v < 2n ** 64n);
          } else if (i < scalars.length + wkts.length) parseMessage(wkts[i - scalars.length], s);
          else assert.equal(typeof parseEnum(KindSchema, s), "number");
        } catch (e) {
          assert.ok(e instanceof ValueError, `not a ValueError: ${String(e)} for ${JSON.stringify(s)}`);
        }
      }),
      budget(6000, 1500),
    );
    assert.equal(parseEnum(KindSchema, "KIND_ALPHA"), Kind.ALPHA);
  });

  it("binds random and mutated request bodies into the request, or throws a RestError (4xx)", () => {
    const withBody = routes.filter((r) => r.body !== "");
    const seeds = ['{"id":"a","small":1,"nested":{"label":"x","deeper":{"value":"v"}}}', '{"label":"x","depth":3,"items":["a"]}', '{"at":"2024-01-01T00:00:00Z","wait":"1s","mask":"a,b","blob":"aGk=","labels":{"k":"v"},"kinds":["KIND_ALPHA"]}', '{"reason":"r"}', '{"value":"12"}', "[]", "null", '"x"', "{}"];
    const body = fc.oneof(mutated(seeds.map((s) => new TextEncoder().encode(s))), fc.uint8Array({ maxLength: 64 }), fc.json().map((j) => new TextEncoder().encode(j)));
    const ct = fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "", "application/merge-patch+json", "APPLICATION/JSON", ";;;", "application/octet-stream");
    fc.assert(
      fc.property(fc.constantFrom(...withBody), body, ct, (route: RestRoute, bytes, contentType) => {
        const path = splitPath(samplePath(route));
        assert.ok(typeof path !== "string");
        try {
          decodeRequest(route, path, "", { bytes, contentType }, types);
        } catch (e) {
          assert.ok(isRestError(e), `not a RestError: ${String(e)}`);
          assert.ok(e.httpStatus >= 400 && e.httpStatus < 500, `HTTP ${e.httpStatus}`);
          assert.doesNotMatch(e.message, /\n\s+at /, "a stack trace in the message");
        }
      }),
      budget(4000, 2000),
    );
  });

  it("reads the REST deadline header as a positive number of ms or refuses it", () => {
    fc.assert(
      fc.property(fc.oneof(junkText("0123456789HMSmun -+.", 12), fc.string({ maxLength: 12 })), (s) => {
        const ms = parseTimeout(s);
        if (ms !== undefined) assert.ok(Number.isFinite(ms) && ms >= 1, `${s} -> ${ms}`);
      }),
      budget(4000, 500),
    );
  });
});
