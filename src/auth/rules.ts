/**
 * What a method needs: nothing, any valid token, or a token with scopes. `{scopes}` needs ALL the
 * listed scopes unless `any: true`, then one of them is enough.
 */
export type Access = "public" | "authenticated" | { scopes: string[]; any?: boolean };

/** One rule: methods matched by "pkg.Service/Method", "pkg.Service/*" or "*", and their access. */
export interface AuthRule {
  match: string;
  access: Access;
}

const PATTERN = /^(\*|[A-Za-z_][A-Za-z0-9_.]*\/(\*|[A-Za-z_][A-Za-z0-9_]*))$/;
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;

/** Services that stay public unless a rule says otherwise: probes and tools must reach them. */
export const PUBLIC_BY_DEFAULT = ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

/** Validates one access value; throws an Error naming `where`. */
export function checkAccess(a: unknown, where: string): Access {
  if (a === "public" || a === "authenticated") return a;
  if (typeof a === "object" && a !== null && !Array.isArray(a)) {
    const o = a as Record<string, unknown>;
    const extra = Object.keys(o).filter((k) => k !== "scopes" && k !== "any");
    if (extra.length > 0) throw new Error(`${where}: unknown field "${extra[0]}"; an access is "public", "authenticated" or {"scopes": [...], "any"?: true}`);
    if (!Array.isArray(o.scopes) || o.scopes.length === 0) throw new Error(`${where}: "scopes" must be a non-empty array of scope names`);
    for (const s of o.scopes) if (typeof s !== "string" || !SCOPE.test(s)) throw new Error(`${where}: ${JSON.stringify(s)} is not a scope name (printable ASCII, no spaces, quotes or backslashes)`);
    if (o.any !== undefined && typeof o.any !== "boolean") throw new Error(`${where}: "any" must be true or false`);
    return { scopes: [...(o.scopes as string[])], any: o.any === true };
  }
  throw new Error(`${where}: ${JSON.stringify(a)} is not an access; use "public", "authenticated" or {"scopes": [...]}`);
}

/** Validates rules (from options or a JSON file); throws an Error naming the bad rule. */
export function checkRules(rules: unknown): AuthRule[] {
  if (!Array.isArray(rules)) throw new Error('auth.rules must be an array of {"match": "pkg.Service/Method", "access": ...}');
  return rules.map((r: unknown, i) => {
    const where = `auth.rules[${i}]`;
    if (typeof r !== "object" || r === null) throw new Error(`${where} must be an object {"match", "access"}`);
    const { match, access, ...rest } = r as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw new Error(`${where}: unknown field "${Object.keys(rest)[0]}"; a rule has "match" and "access"`);
    if (typeof match !== "string" || !PATTERN.test(match)) {
      throw new Error(`${where}: match ${JSON.stringify(match)} must be "pkg.Service/Method", "pkg.Service/*" or "*"`);
    }
    return { match, access: checkAccess(access, where) };
  });
}

/** Whether a rule's pattern matches a method named "pkg.Service/Method" (pure). */
export function matches(pattern: string, method: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("/*")) return method.startsWith(pattern.slice(0, -1));
  return pattern === method;
}

/**
 * The rules in force: the given ones first (the first match wins), then health and reflection as
 * public, then `fallback` for everything else. Answers per method are cached: methods are finite.
 */
export class RuleSet {
  private readonly rules: AuthRule[];
  private readonly cache = new Map<string, Access>();

  constructor(rules: readonly AuthRule[], readonly fallback: Access) {
    this.rules = [...rules, ...PUBLIC_BY_DEFAULT.map((s) => ({ match: `${s}/*`, access: "public" as const }))];
  }

  /** The access a method ("pkg.Service/Method") needs. */
  access(method: string): Access {
    let a = this.cache.get(method);
    if (a === undefined) {
      a = this.rules.find((r) => matches(r.match, method))?.access ?? this.fallback;
      // Only registered methods reach here (the registry answers unknown paths), so the cache is bounded.
      this.cache.set(method, a);
    }
    return a;
  }

  /** Patterns that match none of `methods` (typos, services not served): worth a warning. */
  unused(methods: readonly string[]): string[] {
    return this.rules.filter((r) => r.match !== "*" && !methods.some((m) => matches(r.match, m)) && !PUBLIC_BY_DEFAULT.some((s) => r.match.startsWith(`${s}/`))).map((r) => r.match);
  }
}

/** The scopes of `need` that `have` lacks: all missing for "all", all of them for "any" when none is held (pure). */
export function missingScopes(need: { scopes: string[]; any?: boolean }, have: readonly string[]): string[] {
  const held = new Set(have);
  if (need.any) return need.scopes.some((s) => held.has(s)) ? [] : need.scopes;
  return need.scopes.filter((s) => !held.has(s));
}
