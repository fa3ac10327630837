// Message accounting of the chat part of the soak, as pure functions: what was sent to a room,
// what each subscriber received, and every way the two can disagree (lost, duplicated, foreign,
// reordered, different order than the other subscribers, gaps in a short subscription).

/** One message a sender published; texts are unique over the whole run. */
export interface SentRecord {
  sender: string;
  /** The sender's own counter: its messages must arrive in this order. */
  seq: number;
  /** False when the send call failed: the message may or may not have been published. */
  certain: boolean;
}

/** What was sent to one room between its two markers. */
export interface RoomLedger {
  room: string;
  /** The message every long-lived subscriber had received when counting started. */
  anchor: string;
  /** The message sent after every sender stopped: everything before it must have arrived. */
  final: string;
  sent: Map<string, SentRecord>;
}

/** One subscriber's received texts, in arrival order. */
export interface SubscriberLog {
  name: string;
  texts: string[];
  /** Subscribed from before the anchor to after the final marker; otherwise a short (churn) subscription. */
  longLived: boolean;
}

/** One disagreement, addressed to a subscriber. */
export interface Problem {
  subscriber: string;
  kind: "lost" | "duplicated" | "foreign" | "out of order" | "order differs" | "gap" | "no markers";
  detail: string;
}

const few = (xs: string[]) => xs.slice(0, 5).join(", ") + (xs.length > 5 ? `, ... (${xs.length} in all)` : "");

/** The long-lived subscriber's texts from the anchor to the final marker, both included; undefined without markers. */
export function window(log: SubscriberLog, ledger: RoomLedger): string[] | undefined {
  const from = log.texts.indexOf(ledger.anchor);
  const to = log.texts.indexOf(ledger.final, Math.max(0, from));
  return from < 0 || to < 0 ? undefined : log.texts.slice(from, to + 1);
}

/** Checks one room: every long-lived subscriber got every message once, in the same order; short ones got contiguous runs. */
export function verifyRoom(ledger: RoomLedger, logs: SubscriberLog[]): Problem[] {
  const problems: Problem[] = [];
  let reference: string[] | undefined;
  for (const log of logs.filter((l) => l.longLived)) {
    const w = window(log, ledger);
    if (!w) {
      const missing = [ledger.anchor, ledger.final].filter((m) => !log.texts.includes(m));
      problems.push({ subscriber: log.name, kind: "no markers", detail: `never received ${missing.join(" and ")} (received ${log.texts.length} messages, last ${JSON.stringify(log.texts.at(-1))})` });
      continue;
    }
    const inner = w.slice(1, -1);
    const counts = new Map<string, number>();
    for (const t of inner) counts.set(t, (counts.get(t) ?? 0) + 1);
    const dup = [...counts].filter(([, n]) => n > 1).map(([t, n]) => `${t} x${n}`);
    if (dup.length) problems.push({ subscriber: log.name, kind: "duplicated", detail: few(dup) });
    const foreign = [...counts.keys()].filter((t) => !ledger.sent.has(t));
    if (foreign.length) problems.push({ subscriber: log.name, kind: "foreign", detail: few(foreign) });
    const lost = [...ledger.sent].filter(([t, r]) => r.certain && !counts.has(t)).map(([t]) => t);
    if (lost.length) problems.push({ subscriber: log.name, kind: "lost", detail: few(lost) });
    const last = new Map<string, number>();
    const reordered: string[] = [];
    for (const t of inner) {
      const r = ledger.sent.get(t);
      if (!r) continue;
      // Equal is a duplicate, reported as such above.
      if ((last.get(r.sender) ?? -1) > r.seq) reordered.push(t);
      last.set(r.sender, r.seq);
    }
    if (reordered.length) problems.push({ subscriber: log.name, kind: "out of order", detail: `a sender's messages arrived out of its send order: ${few(reordered)}` });
    if (!reference) reference = w;
    else {
      const at = firstDifference(reference, w);
      if (at >= 0) problems.push({ subscriber: log.name, kind: "order differs", detail: `differs from ${logs.find((l) => l.longLived)?.name} at position ${at}: ${JSON.stringify(w[at])} instead of ${JSON.stringify(reference[at])}` });
    }
  }
  for (const log of logs.filter((l) => !l.longLived)) {
    if (!reference || log.texts.length === 0) continue;
    const start = reference.indexOf(log.texts[0]);
    const at = start < 0 ? 0 : firstDifference(reference.slice(start, start + log.texts.length), log.texts);
    if (start < 0 || at >= 0) problems.push({ subscriber: log.name, kind: "gap", detail: `its ${log.texts.length} messages are not a contiguous run of the room's order (first mismatch at ${start < 0 ? 0 : at}: ${JSON.stringify(log.texts[start < 0 ? 0 : at])})` });
  }
  return problems;
}

/** Index of the first position where the lists differ (length included), -1 when equal. */
export function firstDifference(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
