// Where a bearer token may travel, as pure functions over header values and URLs.

/** The subprotocol prefix that carries a token for browsers, which cannot set WebSocket headers. */
export const BEARER_SUBPROTOCOL = "oneport.bearer.";

/** What an Authorization header holds: a bearer token, another scheme, a malformed value, or nothing. */
export type AuthorizationValue = { token: string } | { error: "scheme" | "malformed" | "too-long" } | undefined;

/** The longest bearer token accepted, in characters (a JWT with large claims is a few KB). */
export const MAX_TOKEN_CHARS = 4096;

/** Parses `Authorization: Bearer <token>` (RFC 6750 §2.1; the scheme name is case-insensitive). */
export function parseAuthorization(value: string | null | undefined): AuthorizationValue {
  if (value === null || value === undefined || value.trim() === "") return undefined;
  const m = /^\s*(\S+)(?:\s+(\S*))?\s*$/.exec(value);
  if (!m) return { error: "malformed" };
  if (m[1].toLowerCase() !== "bearer") return { error: "scheme" };
  // Wider than RFC 6750's b64token: static tokens may hold any printable ASCII but spaces.
  if (m[2] && m[2].length > MAX_TOKEN_CHARS) return { error: "too-long" };
  if (!m[2] || !/^[\x21-\x7e]+$/.test(m[2])) return { error: "malformed" };
  return { token: m[2] };
}

/** The value of cookie `name` in a Cookie header, or undefined (RFC 6265 §5.4, first one wins). */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined || name === "") return undefined;
  for (const line of Array.isArray(header) ? header : [header]) {
    for (const pair of line.split(";")) {
      const eq = pair.indexOf("=");
      if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
      let v = pair.slice(eq + 1).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v === "" ? undefined : v;
    }
  }
  return undefined;
}

/** The token in a `Sec-WebSocket-Protocol` offer such as "oneport.json.v1, oneport.bearer.<token>". */
export function subprotocolToken(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const p of (Array.isArray(header) ? header.join(",") : header).split(",")) {
    const s = p.trim();
    if (s.startsWith(BEARER_SUBPROTOCOL) && s.length > BEARER_SUBPROTOCOL.length) return s.slice(BEARER_SUBPROTOCOL.length);
  }
  return undefined;
}

/** Whether an offered subprotocol is a token carrier (never selected, never echoed). */
export function isBearerSubprotocol(p: string): boolean {
  return p.startsWith(BEARER_SUBPROTOCOL);
}

/** The query parameter `name` of a request target ("/ws?access_token=x"), or undefined. */
export function queryToken(target: string | undefined, name: string): string | undefined {
  const q = target?.indexOf("?") ?? -1;
  if (q < 0 || name === "") return undefined;
  const v = new URLSearchParams(target!.slice(q + 1)).get(name);
  return v === null || v === "" ? undefined : v;
}

/** The query string without parameter `name`, so a token is neither bound to a field nor kept in a URL. */
export function withoutParam(query: string, name: string): string {
  if (name === "" || (!query.includes(name) && !query.includes("%"))) return query;
  // The other pairs are kept byte for byte: re-encoding them could change what they bind to.
  return query
    .split("&")
    .filter((pair) => {
      const eq = pair.indexOf("=");
      const key = eq < 0 ? pair : pair.slice(0, eq);
      try {
        return decodeURIComponent(key.replace(/\+/g, " ")) !== name;
      } catch {
        return true;
      }
    })
    .join("&");
}
