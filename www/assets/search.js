/** Search: the box in the header, its results, and opening a result in its room. */

import { api } from './api.js';
import { handleAuthLoss } from './auth.js';
import { formatTime, h, setText } from './dom.js';
import { jumpTo } from './history.js';
import { openRoom, roomLabel } from './rooms.js';
import { state, ui } from './state.js';

const RESULTS = 20;

/** Lowercase, without accents: how the server compares words. */
function fold(text) {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The words a query looks for (not the excluded ones, not `or`). */
function wantedWords(query) {
  return (query.match(/-?"[^"]*"|-?[^\s"]+/g) || [])
    .filter((word) => !word.startsWith('-') && word.toLowerCase() !== 'or')
    .flatMap((word) => word.replace(/"/g, '').split(/[^\p{L}\p{N}_]+/u))
    .filter(Boolean)
    .map(fold);
}

/** `text` with the query's words marked: text nodes and <mark>s, never HTML. */
export function highlight(text, query) {
  const words = new Set(wantedWords(query));
  const parts = [];
  for (const piece of String(text).split(/([\p{L}\p{N}_]+)/u)) {
    if (piece && words.has(fold(piece))) parts.push(h('mark', { text: piece }));
    else if (piece) parts.push(piece);
  }
  return parts;
}

export async function onSearchSubmit(event) {
  event.preventDefault();
  const query = ui.searchInput.value.trim();
  if (!query) {
    closeResults();
    return;
  }
  setText(ui.searchError, '');
  ui.searchResults.setAttribute('aria-busy', 'true');
  ui.searchPanel.hidden = false;
  let results = [];
  try {
    const data = await api(`/search?q=${encodeURIComponent(query)}&limit=${RESULTS}`);
    results = Array.isArray(data && data.results) ? data.results : [];
  } catch (err) {
    ui.searchResults.setAttribute('aria-busy', 'false');
    if (!handleAuthLoss(err)) setText(ui.searchError, `Search failed: ${err.message}`);
    return;
  }
  renderResults(query, results);
}

function renderResults(query, results) {
  ui.searchResults.setAttribute('aria-busy', 'false');
  ui.searchSummary.textContent = results.length === 0
    ? `Nothing found for “${query}”.`
    : `${results.length}${results.length === RESULTS ? '+' : ''} result${results.length === 1 ? '' : 's'} for “${query}”`;
  ui.searchResults.replaceChildren(...results.map((message) => {
    const info = state.rooms.find((r) => r.id === message.chatroom_id);
    const created = new Date(message.created_at);
    return h('li', {},
      h('button', {
        type: 'button', class: 'search-result', 'data-testid': 'search-result', 'data-id': message.id,
        onclick: () => openResult(message),
      },
      h('span', { class: 'search-result-meta' },
        h('span', { class: 'search-room', text: info ? roomLabel(info) : 'a room' }),
        h('span', { class: 'message-author', text: message.username }),
        h('time', {
          datetime: Number.isNaN(created.getTime()) ? null : created.toISOString(),
          text: Number.isNaN(created.getTime()) ? '' : `${created.toLocaleDateString()} ${formatTime(created)}`,
        })),
      h('span', { class: 'search-result-text' }, ...highlight(message.content, query))));
  }));
}

/** Open the result's room at the message. */
async function openResult(message) {
  closeResults();
  const info = state.rooms.find((r) => r.id === message.chatroom_id);
  if (!info) return;
  if (state.room && state.room.id === info.id && !state.room.closed) {
    jumpTo(state.room, message.id);
    return;
  }
  await openRoom(info, { focusInput: false, jumpTarget: message.id });
}

export function closeResults() {
  ui.searchPanel.hidden = true;
  ui.searchResults.replaceChildren();
  ui.searchSummary.textContent = '';
  setText(ui.searchError, '');
}

export function onSearchKeydown(event) {
  if (event.key === 'Escape') {
    closeResults();
    ui.searchInput.value = '';
  }
}
