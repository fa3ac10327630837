/** Resolves when `signal` aborts, or after `maxMs` (a slow implementation that stops when told to). */
export function untilAborted(signal: AbortSignal, maxMs = 10_000): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, maxMs);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });
}
