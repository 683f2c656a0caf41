// The newsbot sandbox's web chat: one simulated reader's private chat with the bot.
//
// Every piece of text from the server is put on the page with text nodes (textContent), never
// as HTML: the bot's formatting arrives as Telegram entities and becomes elements built here.
"use strict";

const params = new URLSearchParams(location.search);
const state = {
  reader: null, // {id, name, language, operator}
  messages: new Map(), // message id -> <li>
  source: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// --- direction -------------------------------------------------------------------------------

const RTL_LETTER = /[\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}]/u;
const LETTER = /\p{L}/u;

// The direction of the first letter decides, as Telegram's clients do for a message.
function direction(text) {
  for (const ch of text) {
    if (RTL_LETTER.test(ch)) return "rtl";
    if (LETTER.test(ch)) return "ltr";
  }
  return "ltr";
}

// --- entities to DOM -------------------------------------------------------------------------

const SAFE_LINK = /^(https?:|tg:|mailto:)/i;

function link(href, className) {
  if (!SAFE_LINK.test(href)) return el("span", className);
  const a = el("a", className);
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

function elementFor(entity, text) {
  const piece = text.slice(entity.offset, entity.offset + entity.length);
  switch (entity.type) {
    case "bold": return el("b");
    case "italic": return el("i");
    case "underline": return el("u");
    case "strikethrough": return el("s");
    case "code": return el("code");
    case "pre": return el("pre");
    case "blockquote": return el("blockquote");
    case "expandable_blockquote": return el("blockquote", "expandable");
    case "text_link": return link(entity.url || "", "link");
    case "url": return link(/^[a-z]+:/i.test(piece) ? piece : "http://" + piece, "link");
    case "email": return link("mailto:" + piece, "link");
    case "spoiler": {
      const span = el("span", "spoiler");
      span.title = "spoiler: click to show";
      span.addEventListener("click", () => span.classList.add("shown"));
      return span;
    }
    case "bot_command": {
      const span = el("span", "command");
      span.dir = "ltr"; // "/latest" inside Arabic text must not read "latest/"
      span.addEventListener("click", () => sendText(piece));
      return span;
    }
    default: return el("span", "entity-" + String(entity.type).replace(/[^a-z_]/g, ""));
  }
}

// Telegram makes "/command" in a bot's text tappable though no entity marks it; so does this.
// A line of an Arabic text may start with direction marks (RLM, LRM) before its command.
const COMMAND = /(^|[\s(\u200E\u200F])(\/[A-Za-z0-9_]{1,32})(?=$|[\s.,;:!?)\u060C\u061B])/g;
const LITERAL = new Set(["CODE", "PRE", "A"]);

function appendText(parent, piece) {
  let last = 0;
  if (!LITERAL.has(parent.tagName) && !parent.classList.contains("command")) {
    for (const match of piece.matchAll(COMMAND)) {
      const at = match.index + match[1].length;
      parent.append(document.createTextNode(piece.slice(last, at)));
      const name = match[2];
      const command = elementFor({ type: "bot_command", offset: 0, length: name.length }, name);
      command.textContent = name;
      parent.append(command);
      last = at + match[2].length;
    }
  }
  parent.append(document.createTextNode(piece.slice(last)));
}

// Entities nest like the HTML they came from; one that crosses an outer end is split there.
function renderRange(parent, text, start, end, entities) {
  let position = start;
  const pending = entities.slice();
  while (pending.length) {
    const entity = pending.shift();
    const from = Math.max(entity.offset, position);
    const to = Math.min(entity.offset + entity.length, end);
    if (to <= from) continue;
    if (from > position) appendText(parent, text.slice(position, from));
    const inner = [];
    while (pending.length && pending[0].offset < to) {
      const child = pending.shift();
      const childEnd = child.offset + child.length;
      inner.push({ ...child, length: Math.min(childEnd, to) - child.offset });
      if (childEnd > to) pending.push({ ...child, offset: to, length: childEnd - to });
    }
    pending.sort(byPosition);
    const node = elementFor(entity, text);
    renderRange(node, text, from, to, inner);
    parent.append(node);
    position = to;
  }
  if (position < end) appendText(parent, text.slice(position, end));
}

function byPosition(a, b) {
  return a.offset - b.offset || b.length - a.length;
}

function renderText(parent, text, entities) {
  // Offsets count UTF-16 code units, which is what JavaScript strings index.
  renderRange(parent, text, 0, text.length, (entities || []).slice().sort(byPosition));
}

// --- messages --------------------------------------------------------------------------------

function timeOf(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function renderMessage(message) {
  const item = el("li", "message " + (message.from === "bot" ? "from-bot" : "from-user"));
  item.dataset.id = String(message.id);
  const dir = direction(message.text);
  const bubble = el("div", "bubble");
  bubble.dir = dir;
  if (message.photo) {
    // Above the caption, as Telegram shows a photo; the frame keeps its shape while it loads.
    const frame = el("div", "photo");
    frame.style.aspectRatio = `${message.photo.width} / ${message.photo.height}`;
    const image = el("img");
    image.src = message.photo.src;
    image.alt = "";
    image.loading = "lazy";
    image.addEventListener("error", () => image.remove());
    frame.append(image);
    bubble.append(frame);
  }
  const body = el("div", "text");
  body.dir = dir;
  renderText(body, message.text, message.entities);
  bubble.append(body);
  if (message.via_bot) {
    const via = el("span", "via", "via @" + message.via_bot);
    via.dir = "ltr";
    bubble.prepend(via);
  }
  const meta = el("span", "meta", (message.edited ? "edited " : "") + timeOf(message.date));
  meta.dir = "ltr";
  bubble.append(meta);
  item.append(bubble);
  if (message.buttons && message.buttons.length) {
    const keyboard = el("div", "keyboard");
    // Buttons are laid out as the reader's client is, whatever the message's language.
    keyboard.dir = readerDirection();
    for (const row of message.buttons) {
      const line = el("div", "row");
      for (const button of row) line.append(renderButton(message.id, button));
      keyboard.append(line);
    }
    item.append(keyboard);
  }
  return item;
}

function renderButton(messageId, button) {
  if (button.url !== undefined) {
    const a = link(button.url, "button url");
    a.textContent = button.text + " ↗";
    return a;
  }
  const b = el("button", "button", button.text);
  b.type = "button";
  if (button.callback_data === undefined) {
    b.disabled = true; // a kind of button the sandbox cannot act on
    return b;
  }
  b.addEventListener("click", () => press(messageId, button.callback_data, b));
  return b;
}

function readerDirection() {
  return state.reader && state.reader.language === "ar" ? "rtl" : "ltr";
}

function nearBottom() {
  const list = $("messages");
  return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
}

function scrollDown() {
  const list = $("messages");
  list.scrollTop = list.scrollHeight;
  $("new-pill").hidden = true;
}

function upsert(message) {
  const list = $("messages");
  const follow = nearBottom();
  const item = renderMessage(message);
  const old = state.messages.get(message.id);
  if (old) {
    old.replaceWith(item);
  } else {
    const later = [...state.messages.entries()]
      .filter(([id]) => id > message.id)
      .sort(([a], [b]) => a - b)[0];
    list.insertBefore(item, later ? later[1] : null);
  }
  state.messages.set(message.id, item);
  if (follow || message.from === "user") scrollDown();
  // The reader has scrolled up to read: say that something new is below, do not move them.
  else if (!old) $("new-pill").hidden = false;
}

function remove(id) {
  const old = state.messages.get(id);
  if (old) old.remove();
  state.messages.delete(id);
}

function replaceAll(messages) {
  $("messages").replaceChildren();
  state.messages.clear();
  for (const message of messages) upsert(message);
  scrollDown();
}

let toastTimer = 0;
function toast(text, alert) {
  const box = $("toast");
  box.textContent = text;
  box.dir = direction(text);
  box.classList.toggle("alert", Boolean(alert));
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, alert ? 6000 : 2500);
}

// --- talking to the server -------------------------------------------------------------------

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    let reason = response.statusText;
    try { reason = (await response.json()).error || reason; } catch (_) { /* not JSON */ }
    toast(reason, true);
    throw new Error(reason);
  }
  return response.json();
}

function chatPath(what) {
  return `/api/chats/${state.reader.id}/${what}`;
}

async function sendText(text) {
  if (!text.trim()) return;
  const answer = await post(chatPath("send"), { text });
  if (answer.inline) showInlineResults(answer.inline);
}

// "@bot words": the bot's inline results, shown above the composer as Telegram does; picking
// one posts it in the chat "via" the bot.
function showInlineResults(inline) {
  const box = $("inline-results");
  box.replaceChildren();
  if (!inline.results.length) {
    box.append(el("li", "inline-empty", "No results"));
  }
  for (const result of inline.results) {
    const item = el("li", "inline-result");
    const choose = el("button", "inline-choose");
    choose.type = "button";
    const title = el("strong", "", result.title);
    title.dir = direction(result.title);
    choose.append(title);
    if (result.description) {
      const description = el("span", "muted", result.description);
      description.dir = direction(result.description);
      choose.append(description);
    }
    choose.addEventListener("click", async () => {
      box.hidden = true;
      await post(chatPath("choose"), { query_id: inline.query_id, result_id: result.id });
    });
    item.append(choose);
    box.append(item);
  }
  box.hidden = false;
}

async function press(messageId, data, button) {
  button.classList.add("pressed");
  try {
    await post(chatPath("press"), { message_id: messageId, data });
  } finally {
    // The bot answers within a moment; the pressed look only shows the press was taken.
    setTimeout(() => button.classList.remove("pressed"), 600);
  }
}

function handle(event) {
  switch (event.type) {
    case "snapshot": replaceAll(event.messages); break;
    case "message": upsert(event.message); break;
    case "delete": remove(event.id); break;
    case "answer": if (event.text) toast(event.text, event.show_alert); break;
    case "newsroom": renderNewsroom(event); break;
  }
}

function connect() {
  if (state.source) state.source.close();
  const source = new EventSource(chatPath("events"));
  state.source = source;
  // A (re)connected stream starts with a snapshot of the history, so nothing is missed.
  source.onopen = () => { $("status").textContent = "online"; };
  source.onerror = () => { $("status").textContent = "reconnecting…"; };
  source.onmessage = (message) => handle(JSON.parse(message.data));
}

async function loadCommands() {
  const response = await fetch(chatPath("commands"));
  if (!response.ok) return;
  const { commands } = await response.json();
  const list = $("commands");
  list.replaceChildren();
  for (const command of commands) {
    const option = el("option");
    option.value = "/" + command.command;
    option.label = command.description;
    list.append(option);
  }
}

// --- the newsroom (operators) ----------------------------------------------------------------

function publishCommand(articleId) {
  const when = $("when").value.trim();
  const topic = $("topic").value.trim();
  if (topic) return `/schedule ${articleId} ${when || "now"} ${topic}`;
  return when ? `/publish ${articleId} ${when}` : `/publish ${articleId}`;
}

async function publish(articleId) {
  await sendText(publishCommand(articleId));
  // One publish's time and topic must not carry over to the next one unnoticed.
  $("when").value = "";
  $("topic").value = "";
}

function readersLabel(count) {
  return `${count} reader${count === 1 ? "" : "s"}`;
}

// What the panel and the command line call the figure of readers who opened the story.
const OPENED_READ_MORE = "opened Read more";

// Started broadcasts have deliveries to count; one cancelled or missed before it started has none.
function started(b) {
  return b.status === "running" || b.status === "done" || b.targets > 0;
}

function countsText(b) {
  if (b.status === "scheduled") {
    const reach = b.audience === null || b.audience === undefined
      ? "" : ` · would reach ${readersLabel(b.audience)} now`;
    return `not started${reach}`;
  }
  if (!started(b)) return `${b.status} before it started: nothing sent`;
  return `${b.sent}/${b.targets} sent · ${b.waiting} waiting · ${b.skipped} skipped · ` +
    `${b.failed} failed · ${b.readers} ${OPENED_READ_MORE}`;
}

function renderNewsroom(data) {
  const rows = data.articles.map((article) => {
    const row = el("tr");
    row.dataset.article = String(article.id);
    row.append(el("td", "id", "#" + article.id), el("td", "lang", article.language));
    const title = el("td", "title", article.title);
    title.dir = direction(article.title);
    const sections = `${article.sections} section${article.sections === 1 ? "" : "s"}`;
    const parts = [sections];
    if (article.topics.length) parts.push(article.topics.join(", "));
    if (article.audience !== null && article.audience !== undefined) {
      parts.push(readersLabel(article.audience));
    }
    // Each part in its own direction: an Arabic topic beside a number must not swallow it.
    const topics = el("td", "muted");
    parts.forEach((part, index) => {
      if (index) topics.append(document.createTextNode(" · "));
      const piece = el("bdi", "", part);
      topics.append(piece);
    });
    const action = el("td");
    const button = el("button", "publish", "Publish");
    button.type = "button";
    button.addEventListener("click", () => publish(article.id));
    // Breaking news: now, to every target, through quiet hours, digests and caps.
    const breaking = el("button", "breaking", "Breaking");
    breaking.type = "button";
    breaking.addEventListener("click", () => sendText(`/breaking ${article.id}`));
    // A correction edits the pushed cards as the article now reads; a retraction deletes them.
    const correct = el("button", "correct", "Correct");
    correct.type = "button";
    correct.addEventListener("click", () => sendText(`/correct ${article.id}`));
    const retract = el("button", "retract", "Retract");
    retract.type = "button";
    retract.addEventListener("click", () => sendText(`/retract ${article.id}`));
    action.append(button, " ", breaking, " ", correct, " ", retract);
    row.append(title, topics, action);
    return row;
  });
  $("articles").tBodies[0].replaceChildren(...rows);
  $("subscribers").textContent = `· ${data.subscribers} reader(s) subscribed to every topic`;
  const items = data.broadcasts.map((b) => {
    const item = el("li", "broadcast status-" + b.status);
    item.dataset.broadcast = String(b.id);
    const head = el("div", "head");
    const kind = b.kind && b.kind !== "push" ? ` · ${b.kind}` : "";
    head.append(
      el("strong", "", `#${b.id}${kind}`),
      el("span", "state", b.status),
      el("span", "muted", (b.status === "scheduled" ? "due " : "") + b.due),
    );
    if (b.status === "scheduled" || b.status === "running") {
      const cancel = el("button", "cancel", "Cancel");
      cancel.type = "button";
      cancel.addEventListener("click", () => sendText(`/cancel ${b.id}`));
      head.append(cancel);
    }
    const title = el("div", "title", b.title || `article ${b.article_id}`);
    title.dir = direction(title.textContent);
    const about = el("div", "muted", `article ${b.article_id}` + (b.topic ? ` · topic ${b.topic}` : ""));
    item.append(head, title, about);
    if (started(b)) {
      const bar = el("progress");
      bar.max = Math.max(b.targets, 1);
      bar.value = b.finished;
      item.append(bar);
    }
    item.append(el("div", "counts", countsText(b)));
    return item;
  });
  $("broadcasts").replaceChildren(...items);
}

// --- start -----------------------------------------------------------------------------------

async function main() {
  const response = await fetch("/api/readers");
  const info = await response.json();
  $("bot-name").textContent = info.bot.name;
  const wanted = Number(params.get("reader"));
  state.reader = info.readers.find((r) => r.id === wanted) || info.readers[0];
  const picker = $("reader");
  for (const reader of info.readers) {
    const option = el("option", "", `${reader.name} · ${reader.language}` +
      (reader.operator ? " · operator" : ""));
    option.value = String(reader.id);
    option.selected = reader.id === state.reader.id;
    picker.append(option);
  }
  // One page per reader: switching loads that reader's own page (and its own stream).
  picker.addEventListener("change", () => { location.search = "?reader=" + picker.value; });
  document.title = `${state.reader.name} · newsbot sandbox`;
  document.body.dataset.reader = String(state.reader.id);
  if (state.reader.operator && info.newsroom) {
    $("newsroom").hidden = false;
    const toggle = $("newsroom-toggle");
    toggle.hidden = false;
    toggle.addEventListener("click", () => {
      const closed = document.body.classList.toggle("newsroom-closed");
      toggle.setAttribute("aria-expanded", String(!closed));
    });
  }
  $("messages").addEventListener("scroll", () => { if (nearBottom()) $("new-pill").hidden = true; });
  $("new-pill").addEventListener("click", scrollDown);
  // A channel's page only shows its posts: nobody types there.
  if (state.reader.channel) $("composer").hidden = true;

  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("text");
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    try { await sendText(text); } catch (_) { input.value = text; }
  });
  $("text").addEventListener("focus", loadCommands, { once: true });
  connect();
}

main();
