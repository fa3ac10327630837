// Pure checks of chat requests. Every error is INVALID_ARGUMENT with a message that says what a
// valid value looks like, so a client can fix its request without reading the source.
import { Code, ConnectError } from "@connectrpc/connect";

/** Room names: what fits a URL path segment, a Redis channel and a log line unescaped. */
export const ROOM_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Returns the room name or throws INVALID_ARGUMENT. */
export function checkRoom(room: string): string {
  if (room === "") throw new ConnectError('room must not be empty: name a room such as "lobby"', Code.InvalidArgument);
  if (!ROOM_PATTERN.test(room)) {
    throw new ConnectError(`room "${clip(room)}" is not a valid name: use 1 to 64 characters of A-Z a-z 0-9 _ - . starting with a letter or digit`, Code.InvalidArgument);
  }
  return room;
}

/** Returns the text or throws INVALID_ARGUMENT when it is blank or longer than maxChars characters. */
export function checkText(text: string, maxChars: number): string {
  if (text.trim() === "") throw new ConnectError("text must not be blank", Code.InvalidArgument);
  // Count code points, not UTF-16 units: an emoji is one character to the person typing it.
  let n = 0;
  for (const _ of text) if (++n > maxChars) break;
  if (n > maxChars) throw new ConnectError(`text is too long: at most ${maxChars} characters`, Code.InvalidArgument);
  return text;
}

/** Returns the page size to use (0 means the default) or throws INVALID_ARGUMENT. */
export function checkPageSize(size: number, defaultSize: number, maxSize: number): number {
  if (size === 0) return defaultSize;
  if (!Number.isInteger(size) || size < 0 || size > maxSize) throw new ConnectError(`page_size must be from 1 to ${maxSize} (or 0 for ${defaultSize}), got ${size}`, Code.InvalidArgument);
  return size;
}

const TOKEN_PREFIX = "before:";

/** The opaque page token that continues a listing before the message with this id. */
export function encodePageToken(beforeId: string): string {
  return Buffer.from(TOKEN_PREFIX + beforeId).toString("base64url");
}

/** The message id a page token continues before, or throws INVALID_ARGUMENT. */
export function decodePageToken(token: string): string {
  const text = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, "base64url").toString() : "";
  if (!text.startsWith(TOKEN_PREFIX) || text.length === TOKEN_PREFIX.length) {
    throw new ConnectError("page_token is not valid: pass the next_page_token of the previous page unchanged", Code.InvalidArgument);
  }
  return text.slice(TOKEN_PREFIX.length);
}

const clip = (s: string) => (s.length > 80 ? `${s.slice(0, 80)}...` : s);
