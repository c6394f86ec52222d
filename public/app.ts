// The demo page: one ChatApi and one ChatSocket from ../client, the same
// client the tests and the bench use. The application token and the open chat
// live in the URL hash (#app=…&chat=…), so a reload or a bookmark keeps them.
import { ApiError, ChatApi, ChatSocket, pages, SocketError, type Chat, type LiveMessage, type Message, type StateChange, type User } from "../client/index.js";
import { highlightPrefixes } from "./highlight.js";

// The user token is kept in memory only: a reload is anonymous again.
let userToken: string | null = null;
const auth = (): string | null => userToken;
const api = new ChatApi({ baseUrl: location.origin, auth });
const socket = new ChatSocket({ api, auth });

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const ui = {
  connection: $("connection"),
  appCurrent: $("app-current"),
  appName: $("app-name"),
  appToken: $("app-token-shown"),
  appCreate: $<HTMLFormElement>("app-create"),
  appOpen: $<HTMLFormElement>("app-open"),
  chatList: $<HTMLUListElement>("chat-list"),
  chatListEmpty: $("chat-list-empty"),
  chatCreate: $<HTMLFormElement>("chat-create"),
  chatTitle: $("chat-title"),
  send: $<HTMLFormElement>("send"),
  sendStatus: $("send-status"),
  messages: $<HTMLOListElement>("messages"),
  older: $<HTMLButtonElement>("older"),
  search: $<HTMLFormElement>("search"),
  searchStatus: $("search-status"),
  searchResults: $<HTMLOListElement>("search-results"),
  searchMore: $<HTMLButtonElement>("search-more"),
  notice: $("notice"),
  appSecret: $("app-secret"),
  appSecretShown: $("app-secret-shown"),
  user: $<HTMLFormElement>("user"),
  userCurrent: $("user-current"),
  presence: $("presence"),
  typing: $("typing"),
};

/** What the page shows now; `view` changes whenever another chat opens, so late answers for the old one are dropped. */
const state = {
  token: null as string | null,
  chats: new Map<number, Chat>(),
  chat: null as number | null,
  view: 0,
  rendered: new Map<number, HTMLLIElement>(),
  olderCursor: null as string | null,
  searchQuery: "",
  searchCursor: null as string | null,
  unsent: 0,
  wasOpen: false,
  me: null as User | null,
  members: new Map<string, User>(),
  typists: new Map<string, { name: string; timer: ReturnType<typeof setTimeout> }>(),
  lastTyping: 0,
};

// --- connection state

const stateText: Record<StateChange["state"], string> = {
  connecting: "Connecting…",
  open: "Live",
  reconnecting: "Reconnecting…",
  closed: "Disconnected",
};

socket.on("state", (change) => {
  ui.connection.dataset.state = change.state;
  const code = change.closeCode ? ` (closed ${change.closeCode})` : "";
  ui.connection.textContent = change.state === "reconnecting" ? `${stateText.reconnecting} attempt ${change.attempt}${code}` : stateText[change.state];
  // chat_created has no replay: after a reconnect the chat list is read again.
  if (change.state === "open" && state.wasOpen && state.token) void loadChats(state.token);
  if (change.state === "open") state.wasOpen = true;
});

socket.on("message", (message) => {
  if (message.app === state.token && message.chat === state.chat) renderMessage(message, "top");
});
socket.on("message_updated", (update) => {
  if (update.app !== state.token || update.chat !== state.chat) return;
  const body = state.rendered.get(update.number)?.querySelector(".body");
  if (body) body.textContent = update.body;
});
socket.on("message_deleted", (deleted) => {
  if (deleted.app !== state.token || deleted.chat !== state.chat) return;
  state.rendered.get(deleted.number)?.remove();
  state.rendered.delete(deleted.number);
});
socket.on("presence_joined", ({ app, chat, user }) => {
  if (app !== state.token || chat !== state.chat) return;
  state.members.set(user.id, user);
  showPresence();
});
socket.on("presence_left", ({ app, chat, user }) => {
  if (app !== state.token || chat !== state.chat) return;
  state.members.delete(user.id);
  showPresence();
});
socket.on("typing", ({ app, chat, user }) => {
  if (app !== state.token || chat !== state.chat) return;
  // A typist shows for 3 s after their last typing event (clients send one per second while typing).
  clearTimeout(state.typists.get(user.id)?.timer);
  state.typists.set(user.id, { name: displayName(user), timer: setTimeout(() => (state.typists.delete(user.id), showTyping()), 3000) });
  showTyping();
});
socket.on("chat_created", (created) => {
  if (created.app !== state.token || state.chats.has(created.number)) return;
  api.getChat(created.app, created.number).then(addChat, report);
});
socket.on("error", report);
socket.on("unsubscribed", ({ error }) => report(error));
socket.connect();

// --- application

ui.appCreate.addEventListener("submit", (event) => {
  event.preventDefault();
  const input = field(ui.appCreate, "name");
  api.createApplication(input.value.trim()).then((app) => {
    input.value = "";
    ui.appSecretShown.textContent = app.secret;
    ui.appSecret.hidden = false;
    setHash(app.token, null);
  }, report);
});

ui.appOpen.addEventListener("submit", (event) => {
  event.preventDefault();
  const input = field(ui.appOpen, "token");
  setHash(input.value.trim(), null);
  input.value = "";
});

ui.user.addEventListener("submit", (event) => {
  event.preventDefault();
  const input = field(ui.user, "token");
  userToken = input.value.trim();
  socket.authenticate().then((user) => {
    input.value = "";
    state.me = user;
    ui.userCurrent.textContent = `Acting as ${displayName(user)}: messages carry this sender. Reload to be anonymous again.`;
    // Presence counts the user from their next subscription: open the chat again.
    if (state.token && state.chat !== null) void openChat(state.token, state.chat).catch(report);
  }, report);
});

async function openApplication(token: string): Promise<void> {
  const app = await api.getApplication(token);
  if (state.token) {
    socket.unsubscribe(state.token);
    closeChat(state.token);
  }
  state.token = token;
  ui.appCurrent.hidden = false;
  ui.appName.textContent = app.name;
  ui.appToken.textContent = token;
  enable(ui.chatCreate, true);
  await loadChats(token);
  void socket.subscribeApplication(token).catch(report);
}

async function loadChats(token: string): Promise<void> {
  const chats: Chat[] = [];
  for await (const page of pages((after) => api.listChats(token, { after, limit: 200 }))) chats.push(...page);
  if (token !== state.token) return;
  state.chats.clear();
  ui.chatList.replaceChildren();
  for (const chat of chats) addChat(chat);
  ui.chatListEmpty.textContent = "No chats yet: create one below.";
  ui.chatListEmpty.hidden = chats.length > 0;
}

function addChat(chat: Chat): void {
  if (state.chats.has(chat.number)) return;
  state.chats.set(chat.number, chat);
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.chat = String(chat.number);
  button.textContent = chatLabel(chat);
  button.setAttribute("aria-current", String(chat.number === state.chat));
  button.addEventListener("click", () => setHash(state.token, chat.number));
  const item = document.createElement("li");
  item.append(button);
  ui.chatList.append(item);
  ui.chatListEmpty.hidden = true;
}

ui.chatCreate.addEventListener("submit", (event) => {
  event.preventDefault();
  const token = state.token;
  if (!token) return;
  const input = field(ui.chatCreate, "name");
  const name = input.value.trim();
  api.createChat(token, name === "" ? undefined : name).then((chat) => {
    input.value = "";
    addChat(chat);
    setHash(token, chat.number);
  }, report);
});

// --- one chat: history newest first, live messages on top, older pages below

/** Leaves the open chat, if any: the views empty and the socket stops following it. */
function closeChat(token: string): void {
  state.view++;
  if (state.chat !== null) socket.unsubscribe(token, state.chat);
  state.chat = null;
  state.rendered.clear();
  state.members.clear();
  for (const typist of state.typists.values()) clearTimeout(typist.timer);
  state.typists.clear();
  showPresence();
  showTyping();
  ui.chatTitle.textContent = "No chat open";
  ui.messages.replaceChildren();
  ui.searchResults.replaceChildren();
  ui.searchStatus.textContent = "";
  ui.searchMore.hidden = true;
  setOlder(null);
  enable(ui.send, false);
  enable(ui.search, false);
}

async function openChat(token: string, number: number): Promise<void> {
  closeChat(token);
  const view = state.view;
  state.chat = number;
  for (const button of ui.chatList.querySelectorAll("button")) button.setAttribute("aria-current", String(button.dataset.chat === String(number)));
  const chat = state.chats.get(number) ?? (await api.getChat(token, number));
  if (view !== state.view) return;
  ui.chatTitle.textContent = chatLabel(chat);
  const newest = await api.listMessages(token, number);
  if (view !== state.view) return;
  for (const message of newest.data) renderMessage(toLive(token, message), "bottom");
  setOlder(newest.next);
  enable(ui.send, true);
  enable(ui.search, true);
  // Live from the newest number shown; anything created since the read is replayed first.
  await socket.subscribe(token, number, { since: newest.data[0]?.number ?? 0 });
  if (view !== state.view) return;
  const members = await api.getPresence(token, number);
  if (view !== state.view) return;
  for (const member of members) state.members.set(member.id, member);
  showPresence();
  if (state.me && newest.data[0]) await socket.markRead(token, number, newest.data[0].number);
}

function showPresence(): void {
  const names = [...state.members.values()].map(displayName);
  ui.presence.textContent = state.chat === null ? "" : names.length === 0 ? "Nobody with a user token is here." : `Here: ${names.join(", ")}`;
}

function showTyping(): void {
  const names = [...state.typists.values()].map((t) => t.name);
  ui.typing.textContent = names.length === 0 ? "" : `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…`;
}

ui.older.addEventListener("click", () => {
  const { token, chat, olderCursor, view } = state;
  if (!token || chat === null || olderCursor === null) return;
  ui.older.disabled = true;
  api.listMessages(token, chat, { before: olderCursor }).then(
    (page) => {
      if (view !== state.view) return;
      for (const message of page.data) renderMessage(toLive(token, message), "bottom");
      setOlder(page.next);
    },
    report,
  ).finally(() => (ui.older.disabled = false));
});

function setOlder(cursor: string | null): void {
  state.olderCursor = cursor;
  ui.older.hidden = cursor === null;
}

function renderMessage(message: LiveMessage, where: "top" | "bottom"): void {
  if (state.rendered.has(message.number)) return;
  const item = messageItem(message.number, message.created_at, [{ text: message.body, match: false }], message.sender);
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "delete";
  remove.textContent = "Delete";
  remove.setAttribute("aria-label", `Delete message #${message.number}`);
  remove.addEventListener("click", () => {
    if (state.token && state.chat !== null) api.deleteMessage(state.token, state.chat, message.number).catch(report);
  });
  item.append(remove);
  state.rendered.set(message.number, item);
  if (where === "top") ui.messages.prepend(item);
  else ui.messages.append(item);
}

function messageItem(number: number, createdAt: string, segments: { text: string; match: boolean }[], sender: User | null): HTMLLIElement {
  const item = document.createElement("li");
  item.dataset.number = String(number);
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = `#${number} · ${sender ? displayName(sender) : "anonymous"} · ${new Date(createdAt).toLocaleString()}`;
  const body = document.createElement("span");
  body.className = "body";
  for (const { text, match } of segments) {
    if (!match) body.append(text);
    else {
      const mark = document.createElement("mark");
      mark.textContent = text;
      body.append(mark);
    }
  }
  item.append(meta, body);
  return item;
}

ui.send.addEventListener("submit", (event) => {
  event.preventDefault();
  const { token, chat } = state;
  const input = field(ui.send, "body");
  if (!token || chat === null || input.value === "") return;
  const body = input.value;
  input.value = "";
  state.unsent++;
  showUnsent();
  // Sent over the socket with an idempotency key; queued while disconnected and re-sent after a reconnect.
  socket.send(token, chat, body).then(
    () => undefined,
    (err: unknown) => {
      input.value ||= body;
      report(err);
    },
  ).finally(() => {
    state.unsent--;
    showUnsent();
  });
});

// Others see "typing…" while this user types: one typing frame per second at most (the server passes on no more).
field(ui.send, "body").addEventListener("input", () => {
  const { token, chat } = state;
  if (!token || chat === null || !state.me || Date.now() - state.lastTyping < 1000) return;
  state.lastTyping = Date.now();
  socket.typing(token, chat);
});

function showUnsent(): void {
  ui.sendStatus.textContent = state.unsent === 0 ? "" : `${state.unsent} ${state.unsent === 1 ? "message" : "messages"} waiting to be sent…`;
}

// --- search

ui.search.addEventListener("submit", (event) => {
  event.preventDefault();
  state.searchQuery = field(ui.search, "q").value;
  state.searchCursor = null;
  ui.searchResults.replaceChildren();
  void search();
});
ui.searchMore.addEventListener("click", () => void search());

async function search(): Promise<void> {
  const { token, chat, searchQuery, searchCursor, view } = state;
  if (!token || chat === null) return;
  ui.searchStatus.textContent = "Searching…";
  try {
    const page = await api.searchMessages(token, chat, searchQuery, searchCursor === null ? {} : { after: searchCursor });
    if (view !== state.view || searchQuery !== state.searchQuery) return;
    for (const hit of page.data) ui.searchResults.append(messageItem(hit.number, hit.created_at, highlightPrefixes(hit.body, searchQuery), hit.sender));
    const count = ui.searchResults.children.length;
    ui.searchStatus.textContent = count === 0 ? "No message matches." : `${count} ${count === 1 ? "match" : "matches"}${page.next ? " so far" : ""}.`;
    state.searchCursor = page.next;
    ui.searchMore.hidden = page.next === null;
  } catch (err) {
    ui.searchStatus.textContent = "";
    report(err);
  }
}

// --- navigation: the hash is the page's state

function setHash(token: string | null, chat: number | null): void {
  const params = new URLSearchParams();
  if (token) params.set("app", token);
  if (chat !== null) params.set("chat", String(chat));
  location.hash = params.toString();
}

async function route(): Promise<void> {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("app");
  const chat = Number(params.get("chat"));
  if (!token) return;
  if (token !== state.token) await openApplication(token);
  if (Number.isInteger(chat) && chat > 0 && chat !== state.chat) await openChat(token, chat);
}

window.addEventListener("hashchange", () => void route().catch(report));
void route().catch(report);

// --- helpers

function field(form: HTMLFormElement, name: string): HTMLInputElement {
  return form.elements.namedItem(name) as HTMLInputElement;
}

function enable(form: HTMLFormElement, on: boolean): void {
  for (const element of form.querySelectorAll("input, button")) (element as HTMLInputElement | HTMLButtonElement).disabled = !on;
}

function chatLabel(chat: Chat): string {
  return `#${chat.number}${chat.name ? ` ${chat.name}` : ""}`;
}

function toLive(app: string, message: Message): LiveMessage {
  return { app, chat: message.chat_number, number: message.number, body: message.body, sender: message.sender, created_at: message.created_at };
}

function displayName(user: User): string {
  return user.name ?? user.id;
}

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
function report(err: unknown): void {
  const text = err instanceof ApiError || err instanceof SocketError ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err);
  ui.notice.textContent = text;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (ui.notice.textContent = ""), 6000);
}
