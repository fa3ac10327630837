// The path template parser and the route trie: examples, errors with columns, and properties.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseTemplate, printTemplate, TemplateError } from "../../src/rest/template.js";
import { RouteTrie, type TrieRoute } from "../../src/rest/trie.js";

describe("parseTemplate()", () => {
  it("parses literals, variables, nested field paths, * and ** and a verb", () => {
    const t = parseTemplate("/v1/{parent.name=projects/*/files/**}:get");
    assert.deepEqual(t.segments, [{ kind: "literal", value: "v1" }, { kind: "literal", value: "projects" }, { kind: "wildcard" }, { kind: "literal", value: "files" }, { kind: "deep" }]);
    assert.deepEqual(t.variables, [{ fieldPath: ["parent", "name"], start: 1, end: 5, multi: true }]);
    assert.equal(t.verb, "get");
  });

  it("reads {name} as {name=*}, a single-segment variable", () => {
    assert.deepEqual(parseTemplate("/v1/hello/{name}").variables, [{ fieldPath: ["name"], start: 2, end: 3, multi: false }]);
  });

  const bad: Array<[string, number, RegExp]> = [
    ["v1/hello", 1, /expected "\/"/],
    ["/v1/{name", 10, /expected "}", got the end/],
    ["/v1/{}", 6, /expected a field name/],
    ["/v1/{a.}", 8, /expected a field name/],
    ["/v1/**/x", 8, /"\*\*" must be the last segment/],
    ["/v1/{a={b}}", 8, /variables cannot nest/],
    ["/v1/{a}/{a}", 9, /variable "a" appears twice/],
    ["/v1/x:", 7, /expected a verb/],
    ["/v1//x", 5, /expected a literal/],
    ["/v1/%zz", 5, /invalid percent-encoding/],
    ["/v1/x y", 6, /unexpected " "/],
  ];
  for (const [source, column, reason] of bad) {
    it(`reports ${JSON.stringify(source)} at column ${column}`, () => {
      assert.throws(
        () => parseTemplate(source),
        (e: unknown) => e instanceof TemplateError && e.column === column && e.template === source && reason.test(e.message) && e.message.includes(`"${source}"`),
      );
    });
  }
});

// Random valid templates, printed in canonical form.
const literal = fc.stringMatching(/^[A-Za-z0-9\-._~]{1,8}$/);
const ident = fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/);
const plain = fc.oneof(literal, fc.constant("*"));
const variable = fc
  .tuple(fc.array(ident, { minLength: 1, maxLength: 3 }), fc.option(fc.array(plain, { minLength: 1, maxLength: 3 })), fc.boolean())
  .map(([path, inner, deep]) => {
    const segs = inner ?? ["*"];
    const body = deep ? [...segs, "**"] : segs;
    return { name: path.join("."), text: body.length === 1 && body[0] === "*" ? `{${path.join(".")}}` : `{${path.join(".")}=${body.join("/")}}`, deep };
  });
const template = fc
  .tuple(fc.array(fc.oneof(plain.map((text) => ({ text, name: "", deep: false })), variable), { minLength: 1, maxLength: 6 }), fc.option(literal), fc.boolean())
  .map(([parts, verb, tail]) => {
    // Only the last part may contain **, and variable names must be unique.
    const seen = new Set<string>();
    const kept = parts.filter((p, i) => (!p.deep || i === parts.length - 1) && (p.name === "" || (!seen.has(p.name) && seen.add(p.name))));
    const text = "/" + kept.map((p) => p.text).join("/") + (tail && !kept.some((p) => p.deep) ? "/**" : "");
    return text + (verb ? ":" + verb : "");
  })
  .filter((s) => s !== "/");

describe("parseTemplate() properties", () => {
  it("round-trips random valid templates through printTemplate()", () => {
    fc.assert(
      fc.property(template, (s) => {
        const t = parseTemplate(s);
        assert.equal(printTemplate(t), s);
        assert.deepEqual(parseTemplate(printTemplate(t)), t);
      }),
      { numRuns: 500 },
    );
  });

  it("throws nothing but a TemplateError with a column inside the template for junk", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(..."/{}=*.:%ab1_ -"), maxLength: 24 }), (s) => {
        try {
          parseTemplate(s);
        } catch (e) {
          assert.ok(e instanceof TemplateError, String(e));
          assert.ok(e.column >= 1 && e.column <= s.length + 1, `column ${e.column} of ${JSON.stringify(s)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("RouteTrie", () => {
  const route = (httpMethod: string, source: string): TrieRoute & { source: string } => ({ httpMethod, ...parseTemplate(source) });
  const trie = new RouteTrie<TrieRoute & { source: string }>();
  for (const r of [
    route("GET", "/v1/rooms/{room}"),
    route("GET", "/v1/rooms/special"),
    route("POST", "/v1/rooms/{room}:archive"),
    route("GET", "/v1/files/**"),
    route("DELETE", "/v1/rooms/{room}"),
  ])
    trie.add(r, (x) => x.source);
  const find = (m: string, path: string) => trie.lookup(m, path.slice(1).split("/"));

  it("prefers a literal segment to a wildcard", () => {
    assert.equal(find("GET", "/v1/rooms/special").route?.source, "/v1/rooms/special");
    assert.equal(find("GET", "/v1/rooms/other").route?.source, "/v1/rooms/{room}");
  });

  it("falls back to the wildcard when the literal path lacks the method", () => {
    assert.equal(find("DELETE", "/v1/rooms/special").route?.source, "/v1/rooms/{room}");
  });

  it("matches a :verb split off the last segment", () => {
    assert.equal(find("POST", "/v1/rooms/r1:archive").route?.source, "/v1/rooms/{room}:archive");
  });

  it("matches ** against any number of segments", () => {
    assert.equal(find("GET", "/v1/files/a/b/c").route?.source, "/v1/files/**");
    assert.equal(find("GET", "/v1/files").route?.source, "/v1/files/**");
  });

  it("reports the methods allowed at a path that exists for other methods", () => {
    assert.deepEqual(find("PUT", "/v1/rooms/r1"), { allowed: ["DELETE", "GET"] });
    assert.deepEqual(find("GET", "/v2/nothing"), { allowed: [] });
  });

  it("lets a custom {kind: \"*\"} route take every method, after the routes that name one", () => {
    const t = new RouteTrie<TrieRoute & { source: string }>();
    t.add(route("*", "/v1/any/{x}"), (x) => x.source);
    t.add(route("GET", "/v1/any/{x}"), (x) => x.source);
    assert.equal(t.lookup("PROPFIND", ["v1", "any", "a"]).route?.httpMethod, "*");
    assert.equal(t.lookup("GET", ["v1", "any", "a"]).route?.httpMethod, "GET");
    assert.deepEqual(t.methodsAt(["v1", "any", "a"]), ["*", "GET"]);
  });

  it("lists every method served at a path, and none where nothing is", () => {
    assert.deepEqual(trie.methodsAt(["v1", "rooms", "special"]), ["DELETE", "GET"]);
    assert.deepEqual(trie.methodsAt(["v1", "rooms", "r1:archive"]), ["DELETE", "GET", "POST"]);
    assert.deepEqual(trie.methodsAt(["v2"]), []);
  });

  it("refuses two routes with the same method and path", () => {
    assert.throws(() => trie.add(route("GET", "/v1/rooms/{other}"), (x) => x.source), /\/v1\/rooms\/\{other\} has the same HTTP route as \/v1\/rooms\/\{room\}/);
  });
});
