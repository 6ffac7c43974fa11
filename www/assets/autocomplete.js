/**
 * @-mention autocomplete in the composer: typing `@` and the start of a
 * name lists the room's members who match; the arrows choose, Enter or Tab
 * puts the name in, Escape closes the list.
 */

import { api } from './api.js';
import { h, sameUser } from './dom.js';
import { state, ui } from './state.js';

const MAX_SHOWN = 8;
const members = new Map(); // room id → usernames, read once per room
let shown = [];
let active = 0;

/** The `@word` being typed just before the caret, if any. */
function mentionAtCaret() {
  const input = ui.messageInput;
  const before = input.value.slice(0, input.selectionStart);
  const match = /(^|[^A-Za-z0-9_])@([A-Za-z0-9_]{0,50})$/.exec(before);
  return match ? { start: before.length - match[2].length, typed: match[2] } : null;
}

async function namesOf(room) {
  if (!members.has(room.id)) {
    members.set(room.id, []);
    try {
      const data = await api(`/chatrooms/${encodeURIComponent(room.id)}/members`);
      members.set(room.id, (data.members || []).map((m) => m.username));
    } catch {
      members.delete(room.id);
    }
  }
  return members.get(room.id) || [];
}

/** On input: the list of matching names, or none. */
export async function onMentionInput() {
  const room = state.room;
  if (!room || !mentionAtCaret()) {
    closeSuggestions();
    return;
  }
  const me = state.user ? state.user.username : '';
  const names = new Set([...(await namesOf(room)), ...room.online]);
  // What is typed now: more may have been typed (or the @ gone) meanwhile.
  const at = mentionAtCaret();
  if (state.room !== room || !at) {
    closeSuggestions();
    return;
  }
  const typed = at.typed.toLowerCase();
  shown = [...names]
    .filter((name) => !sameUser(name, me) && name.toLowerCase().startsWith(typed))
    .sort((a, b) => a.localeCompare(b))
    .slice(0, MAX_SHOWN);
  active = 0;
  render();
}

function render() {
  const list = ui.mentionSuggestions;
  list.replaceChildren(...shown.map((name, index) => h('li', {
    id: `mention-option-${index}`, role: 'option', class: 'mention-option', 'data-testid': 'mention-option',
    'aria-selected': index === active ? 'true' : 'false', text: `@${name}`,
    onmousedown: (event) => { event.preventDefault(); choose(index); },
  })));
  list.hidden = shown.length === 0;
  ui.messageInput.setAttribute('aria-expanded', String(shown.length > 0));
  if (shown.length) ui.messageInput.setAttribute('aria-activedescendant', `mention-option-${active}`);
  else ui.messageInput.removeAttribute('aria-activedescendant');
}

function choose(index) {
  const at = mentionAtCaret();
  const name = shown[index];
  if (!at || !name) return;
  const input = ui.messageInput;
  const end = input.selectionStart;
  input.setRangeText(`${name} `, at.start, end, 'end');
  closeSuggestions();
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

export function closeSuggestions() {
  shown = [];
  render();
}

/** Whether the name being typed is the chosen suggestion in full. */
function complete() {
  const at = mentionAtCaret();
  return Boolean(at && shown[active] && sameUser(at.typed, shown[active]));
}

/** Keys while the list is open; runs before the composer's own (Enter sends). */
export function onMentionKeydown(event) {
  if (shown.length === 0) return;
  if (!mentionAtCaret()) {
    closeSuggestions();
    return;
  }
  const moves = { ArrowDown: 1, ArrowUp: -1 };
  if (event.key in moves) {
    active = (active + moves[event.key] + shown.length) % shown.length;
    render();
  } else if (event.key === 'Enter' && complete()) {
    // The name is typed in full already: Enter sends, as without the list.
    closeSuggestions();
    return;
  } else if (event.key === 'Enter' || event.key === 'Tab') {
    choose(active);
  } else if (event.key === 'Escape') {
    closeSuggestions();
  } else {
    return;
  }
  event.preventDefault();
  event.stopImmediatePropagation();
}

/** A member joined or left: read the names again when next needed. */
export function forgetMembers(roomId) {
  members.delete(roomId);
}
