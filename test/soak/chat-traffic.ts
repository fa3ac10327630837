// Chat across protocols for the whole soak: long-lived subscribers on every protocol in a few
// rooms, senders on every protocol, short subscriptions opened and cancelled, injected auth and
// validation errors; at the end every subscriber's messages are checked against what was sent.
import { Code, type Transport } from "@connectrpc/connect";
import { connectJson, grpcJs, grpcWeb, rest, webSocket, type ChatClient, type ChatClientFactory, type Received } from "../chat/adapters.js";
import { joinChat, type BidiParticipant } from "./chat-bidi.js";
import { verifyRoom, type RoomLedger, type SubscriberLog } from "./chat-ledger.js";
import type { Tally } from "./tally.js";

/** The unary-and-subscribe adapters of test/chat, by the soak's protocol names. */
const ADAPTERS: Array<[string, ChatClientFactory]> = [["grpc", grpcJs], ["connect-json-h1", connectJson], ["grpc-web", grpcWeb], ["rest", rest], ["ws-json", webSocket]];
const SEND = "chat.v1.ChatService/Send";
const SUB = "chat.v1.ChatService/Subscribe";

/** Settings of the chat traffic. */
export interface ChatTrafficOptions {
  url: string;
  tally: Tally;
  random: () => number;
  /** Tokens the server knows: a sender's and a subscriber's. */
  senderToken: string;
  subscriberToken: string;
  rooms: string[];
  /** Mean pause between two sends of one sender. */
  sendIntervalMs: number;
  /**
   * Messages sent to each room before anything else, so that the rooms' bounded history is full
   * from the start: otherwise it fills during the run and looks like growth (0: none).
   */
  historyPrefill: number;
  /** Transports for the bidi Chat participants (protocol name -> transport). */
  bidi: Array<[string, Transport]>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `has()` holds, up to `ms`; true if it did. */
async function waitFor(has: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; !has(); ) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

/** The chat part of a soak: start() before the other traffic, stop() at the end. */
export class ChatTraffic {
  readonly ledgers = new Map<string, RoomLedger>();
  private readonly logs = new Map<string, Array<{ name: string; received: Received; longLived: boolean }>>();
  private readonly senders: Array<[string, ChatClient]>;
  private readonly intruders: Array<[string, ChatClient]>;
  private readonly listeners: Array<[string, ChatClient]>;
  private bidi: Array<{ protocol: string; room: string; p: BidiParticipant }> = [];
  private loops: Promise<void>[] = [];
  private stopped = false;
  private churned = 0;

  constructor(private readonly o: ChatTrafficOptions) {
    this.senders = ADAPTERS.map(([p, f]) => [p, f(o.url, o.senderToken)]);
    this.listeners = ADAPTERS.map(([p, f]) => [p, f(o.url, o.subscriberToken)]);
    this.intruders = ADAPTERS.map(([p, f]) => [p, f(o.url, "soak-unknown-token")]);
    for (const room of o.rooms) this.logs.set(room, []);
  }

  /** Subscribes everyone, waits until every subscriber receives an anchor message, then starts sending. */
  async start(): Promise<void> {
    for (const room of this.o.rooms) {
      for (const [p, c] of this.listeners) this.logs.get(room)!.push({ name: `${p} subscriber`, received: c.subscribe(room).received, longLived: true });
      for (const [protocol, transport] of this.o.bidi) {
        const p = joinChat(transport, this.o.subscriberToken, room);
        this.bidi.push({ protocol, room, p });
        this.logs.get(room)!.push({ name: `${protocol} Chat stream`, received: p.received, longLived: true });
      }
    }
    // Every subscriber must be registered before the prefill: wait for one message to reach all.
    await this.anchor("ready");
    // With every subscriber listening, so that each message also holds what the server derives from
    // it for its readers (decoded once, encoded once per WebSocket format) as in the steady state.
    const [, prefiller] = this.senders[0];
    for (const room of this.o.rooms) {
      let next = 0;
      const worker = async () => {
        while (next < this.o.historyPrefill) await prefiller.send(room, `prefill:${room}:${next++}`);
      };
      // Two at a time: fast enough, and no subscriber falls behind its bounded queue.
      await Promise.all([worker(), worker()]);
    }
    // Counting starts at an anchor that every subscriber received after the prefill.
    const anchors = await this.anchor("anchor");
    for (const room of this.o.rooms) this.ledgers.set(room, { room, anchor: anchors.get(room)!, final: `final:${room}`, sent: new Map() });
    this.loops = [...this.senders.map(([p, c], i) => this.sendLoop(p, c, this.intruders[i][1])), ...this.bidi.map((b) => this.bidiLoop(b)), this.churnLoop()];
  }

  /**
   * Subscriptions are registered on the server asynchronously: per room, marker messages are sent
   * until one reached every subscriber; returns that marker per room.
   */
  private async anchor(prefix: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const room of this.o.rooms) {
      const subs = this.logs.get(room)!;
      const has = (text: string) => (s: { received: Received }) => s.received.messages.some((m) => m.text === text);
      for (let k = 0; ; k++) {
        const marker = `${prefix}:${room}:${k}`;
        await this.senders[0][1].send(room, marker);
        if (await waitFor(() => subs.every(has(marker)), 3_000)) {
          out.set(room, marker);
          break;
        }
        if (k === 20) throw new Error(`chat subscribers of ${room} not ready: ${subs.filter((s) => !has(marker)(s)).map((s) => s.name).join(", ")}`);
      }
    }
    return out;
  }

  private pause = () => sleep(this.o.sendIntervalMs * (0.5 + this.o.random()));
  private room = () => this.o.rooms[Math.floor(this.o.random() * this.o.rooms.length)];

  private async sendLoop(protocol: string, c: ChatClient, intruder: ChatClient): Promise<void> {
    const { tally } = this.o;
    for (let seq = 0; !this.stopped; seq++) {
      await this.pause();
      if (this.stopped) break;
      const r = this.o.random();
      if (r < 0.04) await tally.call(protocol, `${SEND} (unknown token)`, Code.Unauthenticated, () => intruder.send(this.room(), "intruder"));
      else if (r < 0.08) await tally.call(protocol, `${SEND} (blank text)`, Code.InvalidArgument, () => c.send(this.room(), "   "));
      else {
        const room = this.room();
        const text = `${protocol}#${seq}`;
        const rec = { sender: protocol, seq, certain: true };
        // In the ledger before the call: a subscriber may see it before the sender's answer arrives.
        this.ledgers.get(room)!.sent.set(text, rec);
        await tally.call(protocol, SEND, undefined, () => c.send(room, text).catch((e: unknown) => {
          rec.certain = false;
          throw e;
        }), (m) => (m.text === text && m.room === room && m.author !== "" ? undefined : `stored as ${JSON.stringify({ room: m.room, text: m.text, author: m.author })}`));
      }
    }
  }

  private async bidiLoop(b: { protocol: string; room: string; p: BidiParticipant }): Promise<void> {
    for (let seq = 0; !this.stopped; seq++) {
      await sleep(this.o.sendIntervalMs * this.o.rooms.length * (0.5 + this.o.random()));
      if (this.stopped || b.p.received.ended) break;
      const text = `${b.protocol}@${b.room}#${seq}`;
      this.ledgers.get(b.room)!.sent.set(text, { sender: `${b.protocol}@${b.room}`, seq, certain: true });
      b.p.send(text);
      this.o.tally.record(b.protocol, "chat.v1.ChatService/Chat (send on the stream)", undefined, undefined);
    }
  }

  /** Short subscriptions on every protocol, cancelled after 1 to 4 s; some to an invalid room. */
  private async churnLoop(): Promise<void> {
    const running = new Set<Promise<void>>();
    while (!this.stopped) {
      await sleep(700);
      if (this.stopped || running.size >= 4) continue;
      const [protocol, c] = this.listeners[Math.floor(this.o.random() * this.listeners.length)];
      const bad = this.o.random() < 0.1;
      const room = bad ? "no such room!" : this.room();
      const hold = 1_000 + this.o.random() * 3_000;
      const p = this.churn(protocol, c, room, bad, hold).finally(() => running.delete(p));
      running.add(p);
    }
    await Promise.all(running);
  }

  private async churn(protocol: string, c: ChatClient, room: string, bad: boolean, holdMs: number): Promise<void> {
    const sub = c.subscribe(room);
    if (bad) {
      const code = await Promise.race([sub.received.done(), sleep(60_000).then(() => Code.DeadlineExceeded)]);
      sub.cancel();
      return this.o.tally.record(protocol, `${SUB} (invalid room)`, Code.InvalidArgument, code);
    }
    await sleep(holdMs);
    const early = sub.received.ended;
    sub.cancel();
    this.o.tally.record(protocol, `${SUB} (client cancels)`, undefined, early ? (sub.received.error ?? Code.Unknown) : undefined, early ? "the subscription ended before the client cancelled it" : "");
    this.logs.get(room)!.push({ name: `${protocol} short subscription #${++this.churned}`, received: sub.received, longLived: false });
  }

  /** Stops sending, sends the final markers, waits for them (up to `waitMs`) and records every problem in the tally. */
  async stop(waitMs = 60_000): Promise<{ sent: number; delivered: number; problems: number }> {
    this.stopped = true;
    await Promise.all(this.loops);
    let sent = 0;
    let delivered = 0;
    let problems = 0;
    for (const room of this.o.rooms) {
      const ledger = this.ledgers.get(room)!;
      await this.o.tally.call("grpc", `${SEND} (final marker)`, undefined, () => this.senders[0][1].send(room, ledger.final));
      const subs = this.logs.get(room)!;
      await waitFor(() => subs.filter((s) => s.longLived).every((s) => s.received.ended || s.received.messages.some((m) => m.text === ledger.final)), waitMs);
      const logs: SubscriberLog[] = subs.map((s) => ({ name: s.name, texts: s.received.messages.map((m) => m.text), longLived: s.longLived }));
      for (const s of subs.filter((x) => x.longLived && x.received.ended))
        this.o.tally.fail(s.name.split(" ")[0], `${SUB} ${room}`, "open until the end", "ended", `code ${s.received.error === undefined ? "ok" : Code[s.received.error]}`);
      for (const pr of verifyRoom(ledger, logs)) {
        problems++;
        this.o.tally.fail(pr.subscriber.split(" ")[0], `chat room ${room}: ${pr.subscriber}`, "every message exactly once, in order", pr.kind, pr.detail);
      }
      sent += ledger.sent.size;
      delivered += logs.reduce((n, l) => n + l.texts.length, 0);
    }
    return { sent, delivered, problems };
  }

  /** Closes every stream and client. */
  close(): void {
    this.bidi.forEach((b) => b.p.cancel());
    for (const [, c] of [...this.senders, ...this.listeners, ...this.intruders]) c.close();
  }
}
