import type { Segment } from "./template.js";

/** A route in the trie: anything with an HTTP method, a template's segments and verb. */
export interface TrieRoute {
  readonly httpMethod: string;
  readonly segments: Segment[];
  readonly verb: string;
}

/** What a lookup found: the route for the method, else the methods allowed at the path (405). */
export type TrieMatch<R> = { route: R } | { route?: undefined; allowed: string[] };

interface Node<R> {
  literals: Map<string, Node<R>>;
  wildcard?: Node<R>;
  deep?: Node<R>;
  /** verb -> HTTP method -> route */
  leaves: Map<string, Map<string, R>>;
}

// Not an HTTP method (methods are tokens): a lookup with it collects the methods of every match.
const ALL = "";

const node = <R>(): Node<R> => ({ literals: new Map(), leaves: new Map() });

/**
 * A route trie over path segments, in the style of vanguard-go: literal children are tried before
 * `*`, and `*` before `**`; a lookup that finds the path but not the method reports the methods
 * that exist there, so the caller can answer 405 with Allow instead of 404.
 */
export class RouteTrie<R extends TrieRoute> {
  private readonly root = node<R>();

  /** Adds a route; throws when the same method, path and verb are already taken. */
  add(route: R, describe: (r: R) => string): void {
    let n = this.root;
    for (const s of route.segments) {
      if (s.kind === "literal") {
        let next = n.literals.get(s.value);
        if (!next) n.literals.set(s.value, (next = node()));
        n = next;
      } else if (s.kind === "wildcard") n = n.wildcard ??= node();
      else n = n.deep ??= node();
    }
    let byMethod = n.leaves.get(route.verb);
    if (!byMethod) n.leaves.set(route.verb, (byMethod = new Map()));
    const taken = byMethod.get(route.httpMethod);
    if (taken) throw new Error(`${describe(route)} has the same HTTP route as ${describe(taken)}`);
    byMethod.set(route.httpMethod, route);
  }

  /** Whether any route starts with this literal first segment (the REST feature owns those paths). */
  hasRoot(segment: string): boolean {
    return this.root.literals.has(segment);
  }

  /**
   * Finds the route for a method and decoded path segments. `:verb` is tried split off the last
   * segment first, then as part of it (a variable's value may contain a colon).
   */
  lookup(httpMethod: string, segments: string[]): TrieMatch<R> {
    // Found on the first try without collecting anything; only a miss looks again for the Allow list.
    const r = this.find(httpMethod, segments, undefined);
    if (r) return { route: r };
    const allowed = new Set<string>();
    this.find(httpMethod, segments, allowed);
    return { allowed: [...allowed].sort() };
  }

  private find(httpMethod: string, segments: string[], allowed: Set<string> | undefined): R | undefined {
    const last = segments[segments.length - 1] ?? "";
    const colon = last.lastIndexOf(":");
    if (colon >= 0) {
      const split = segments.slice(0, -1);
      split.push(last.slice(0, colon));
      const r = this.search(this.root, split, 0, last.slice(colon + 1), httpMethod, allowed);
      if (r) return r;
    }
    return this.search(this.root, segments, 0, "", httpMethod, allowed);
  }

  /** Every HTTP method with a route at these decoded segments ("*" for a custom kind that takes any). */
  methodsAt(segments: string[]): string[] {
    const m = this.lookup(ALL, segments);
    return "allowed" in m ? m.allowed : [];
  }

  private search(n: Node<R>, segs: string[], i: number, verb: string, method: string, allowed: Set<string> | undefined): R | undefined {
    if (i === segs.length) {
      const found = this.leaf(n, verb, method, allowed);
      if (found) return found;
      // `**` also matches zero segments.
      return n.deep ? this.leaf(n.deep, verb, method, allowed) : undefined;
    }
    const lit = n.literals.get(segs[i]);
    if (lit) {
      const r = this.search(lit, segs, i + 1, verb, method, allowed);
      if (r) return r;
    }
    if (n.wildcard) {
      const r = this.search(n.wildcard, segs, i + 1, verb, method, allowed);
      if (r) return r;
    }
    return n.deep ? this.leaf(n.deep, verb, method, allowed) : undefined;
  }

  private leaf(n: Node<R>, verb: string, method: string, allowed: Set<string> | undefined): R | undefined {
    const byMethod = n.leaves.get(verb);
    if (!byMethod) return undefined;
    // custom {kind: "*"} takes every method.
    const r = method === ALL ? undefined : (byMethod.get(method) ?? byMethod.get("*"));
    if (r) return r;
    if (allowed) for (const m of byMethod.keys()) allowed.add(m);
    return undefined;
  }
}
