// Messages that many readers receive as the very same object (one chat message fanned out to every
// subscriber) and that nobody changes afterwards. Protocol adapters may then encode such a message
// once and reuse the bytes for every reader, instead of encoding it once per subscriber.
const shared = new WeakSet<object>();

/** Marks `message` as shared and immutable from now on: encoders may cache its encoding. Returns it. */
export function markShared<T extends object>(message: T): T {
  shared.add(message);
  return message;
}

/** True when `message` was marked with markShared (its encoding may be cached by identity). */
export function isShared(message: object): boolean {
  return shared.has(message);
}
