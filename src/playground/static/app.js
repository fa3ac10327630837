// The playground page: plain JS, no build step. Calls the API over Connect (fetch, JSON) and over
// the WebSocket bridge, and shows a chat room live.
import { ChatMessageSchema, ChatService, Code, ConnectError, createClient, createWebSocketTransport, toJson } from "./oneport-browser.js";
import { StreamError, WsClient } from "./ws-client.js";

const $ = (id) => document.getElementById(id);

/** Creates an element with text content (never HTML: every value shown here came from the network). */
function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

/** A Connect unary call with JSON over fetch; rejects with a StreamError carrying the Connect code. */
async function connectCall(method, message, headers = {}) {
  const res = await fetch(`/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(message),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new StreamError(body.code ?? `http_${res.status}`, body.message);
  return body;
}

const info = await (await fetch("/playground.json")).json();
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${info.ws.path ?? "/ws"}`;
if (info.ws.path === null) {
  // The server runs without the WebSocket bridge: offer what works over Connect only.
  for (const id of ["hello-ws", "chat-join"]) $(id).disabled = true;
  $("send-protocol").value = "connect";
  $("send-protocol").disabled = true;
  $("ws-state").textContent = "WebSocket: disabled on this server";
}
const ws = new WsClient(wsUrl, (state) => {
  $("ws-state").textContent = `WebSocket: ${state}`;
  $("ws-state").dataset.state = state.split(" ")[0];
});

// Services, from the server's registry.
const list = $("services");
list.replaceChildren();
for (const s of info.services) {
  const item = el("li");
  item.append(el("strong", s.name));
  const methods = el("ul");
  for (const m of s.methods) {
    const li = el("li", `${m.name} `);
    li.append(el("span", m.kind.replace("_", " "), "badge"));
    methods.append(li);
  }
  item.append(methods);
  list.append(item);
}

// SayHello over both protocols.
function logLine(target, protocol, text, ok) {
  const li = el("li", undefined, ok ? "ok" : "error");
  li.append(el("span", protocol, "badge"), el("span", ` ${text}`));
  li.dataset.protocol = protocol;
  target.prepend(li);
}

$("hello-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const protocol = e.submitter?.dataset.protocol ?? "connect";
  const message = { name: $("hello-name").value };
  const method = "example.ExampleService/SayHello";
  try {
    const res = protocol === "ws" ? await ws.unary(method, message) : await connectCall(method, message);
    logLine($("hello-results"), protocol === "ws" ? "WebSocket" : "Connect", res.message, true);
  } catch (err) {
    logLine($("hello-results"), protocol === "ws" ? "WebSocket" : "Connect", err.message, false);
  }
});

// Chat: subscribe over /ws, send over /ws or Connect.
const chat = { sub: null, room: "", retry: 0 };
if (!info.chat) {
  $("chat-panel").hidden = true;
} else {
  for (const t of info.chat.devTokens) $("dev-tokens").append(Object.assign(el("option"), { value: t.token, label: `${t.name} (dev token)` }));
  if (info.chat.devTokens.length > 0) $("chat-token").value = info.chat.devTokens[0].token;
}

const auth = () => ({ authorization: `Bearer ${$("chat-token").value.trim()}` });
const setStatus = (text, error = false) => {
  $("chat-status").textContent = text;
  $("chat-status").className = error ? "hint error" : "hint";
};

/** Shows a message once (live or from History), keeping the list in timestamp order. */
function showMessage(m) {
  const list = $("chat-messages");
  if (list.querySelector(`li[data-id="${CSS.escape(m.id)}"]`)) return;
  const li = el("li");
  const time = m.timestamp ? new Date(m.timestamp).toLocaleTimeString([], { hour12: false }) : "";
  li.append(el("time", time), el("strong", m.author), el("span", m.text));
  li.dataset.id = m.id;
  li.dataset.ts = String(Date.parse(m.timestamp ?? "") || 0);
  // Live messages arrive in order; only History catch-up may need to go before newer ones.
  const later = [...list.children].find((x) => Number(x.dataset.ts) > Number(li.dataset.ts));
  list.insertBefore(li, later ?? null);
  li.scrollIntoView({ block: "nearest" });
}

function leave() {
  chat.sub?.cancel();
  chat.sub = null;
  clearTimeout(chat.retry);
  $("chat-leave").disabled = true;
  $("chat-join").disabled = false;
}

// Codes after which joining again makes sense: the server ended a long stream (its deadline, a
// restart) or the socket dropped. Messages sent meanwhile are caught up from History.
const transient = new Set(["deadline_exceeded", "unavailable", "resource_exhausted"]);

// The chat is one bidi ChatService.Chat stream over oneport's Connect transport for /ws (the generated
// client, as with any Connect transport): its first request joins the room, later ones send.
let chatClient;

/** Opens a Chat stream in `room`; returns {send(text), cancel(), done} like ws.serverStream. */
function chatStream(room, headers, onMessage) {
  chatClient ??= createClient(ChatService, createWebSocketTransport({ baseUrl: location.origin, path: info.ws.path }));
  const ac = new AbortController();
  const pending = [];
  let wake;
  async function* requests() {
    yield { room, text: "" };
    while (!ac.signal.aborted) {
      while (pending.length > 0) yield { room, text: pending.shift() };
      await new Promise((resolve) => (wake = resolve));
    }
  }
  const done = (async () => {
    try {
      for await (const res of chatClient.chat(requests(), { headers, signal: ac.signal })) onMessage(toJson(ChatMessageSchema, res.message));
    } catch (e) {
      if (ac.signal.aborted) return;
      const err = ConnectError.from(e);
      throw new StreamError(Code[err.code].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase()), err.rawMessage);
    }
  })();
  return {
    send(text) {
      pending.push(text);
      wake?.();
    },
    cancel() {
      ac.abort();
      wake?.();
    },
    done,
  };
}

function join(room, attempt = 0) {
  const sub = chatStream(room, auth(), showMessage);
  chat.sub = sub;
  $("chat-join").disabled = true;
  $("chat-leave").disabled = false;
  setStatus(`In room "${room}" over WebSocket: messages from every protocol appear below.`);
  document.body.dataset.joined = room;
  // Recent messages, and on a rejoin the ones sent while we were away.
  connectCall("chat.v1.ChatService/History", { room, pageSize: 20 }, auth()).then(
    (page) => chat.sub === sub && (page.messages ?? []).forEach(showMessage),
    () => {}, // the subscription reports auth and validation errors itself
  );
  sub.done.then(
    () => chat.sub === sub && setStatus(`Left room "${room}".`),
    (err) => {
      if (chat.sub !== sub) return;
      leave();
      if (transient.has(err.code) && attempt < 5) {
        setStatus(`Subscription ended (${err.message}); joining again…`, true);
        chat.retry = setTimeout(() => join(room, attempt + 1), 500 * 2 ** attempt);
        return;
      }
      delete document.body.dataset.joined;
      setStatus(`Subscription ended: ${err.message}`, true);
    },
  );
  // A subscription that lived a while resets the retry budget.
  setTimeout(() => chat.sub === sub && (attempt = 0), 30_000);
}

$("join-form").addEventListener("submit", (e) => {
  e.preventDefault();
  leave();
  chat.room = $("chat-room").value.trim();
  $("chat-messages").replaceChildren();
  join(chat.room);
});

$("chat-leave").addEventListener("click", () => {
  leave();
  delete document.body.dataset.joined;
  setStatus(`Left room "${chat.room}".`);
});

$("send-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("chat-text").value;
  const room = $("chat-room").value.trim();
  const method = "chat.v1.ChatService/Send";
  try {
    if ($("send-protocol").value === "ws" && chat.sub && document.body.dataset.joined === room) chat.sub.send(text);
    else if ($("send-protocol").value === "ws") await ws.unary(method, { room, text }, auth());
    else await connectCall(method, { room, text }, auth());
    $("chat-text").value = "";
  } catch (err) {
    setStatus(`Send failed: ${err.message}`, true);
  }
});

document.body.dataset.ready = "true";
