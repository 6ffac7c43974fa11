/** Reactions under a message: the counts, the ☺+ that opens the picker, and the frames. */

import { sendFrame, showChatError } from './composer.js';
import { h, sameUser } from './dom.js';
import { openPicker } from './picker.js';
import { state } from './state.js';

/** The counts under a message (who reacted on hover or focus), and the picker. */
export function renderReactions(messageId, reactions) {
  const me = state.user ? state.user.username : '';
  const list = Array.isArray(reactions) ? reactions : [];
  const chips = list.map((reaction) => {
    const users = Array.isArray(reaction.users) ? reaction.users.map(String) : [];
    const mine = users.some((name) => sameUser(name, me));
    const who = `${users.join(', ')} reacted with ${reaction.emoji}`;
    return h('button', {
      type: 'button',
      class: mine ? 'reaction is-mine' : 'reaction',
      'data-testid': 'reaction',
      'data-emoji': reaction.emoji,
      'aria-pressed': mine ? 'true' : 'false',
      // Starts with what the chip shows (the emoji and the count), as a name must.
      'aria-label': `${reaction.emoji} ${reaction.count ?? users.length}: ${who}${mine ? '; press to remove yours' : '; press to add yours'}`,
      onclick: () => sendReaction(messageId, reaction.emoji, !mine),
    },
    h('span', { class: 'reaction-emoji', text: reaction.emoji }),
    h('span', { class: 'reaction-count', 'data-testid': 'reaction-count', text: String(reaction.count ?? users.length) }),
    h('span', { class: 'reaction-who', role: 'tooltip', 'data-testid': 'reaction-who', text: users.join(', ') }));
  });
  // Shown on hover; keyboard users react through the message's menu, so a
  // long room is not one extra tab stop per message.
  const add = h('button', {
    type: 'button', class: 'reaction-add', 'data-testid': 'add-reaction', tabindex: '-1',
    'aria-label': 'Add a reaction', 'aria-haspopup': 'dialog', 'aria-expanded': 'false',
    title: 'Add a reaction', text: '☺+',
    onclick: (event) => pickReaction(messageId, event.currentTarget),
  });
  return h('div', { class: 'reactions', 'data-testid': 'reactions' }, ...chips, add);
}

/** Opens the picker beside `anchor` for message `messageId`. */
export function pickReaction(messageId, anchor) {
  openPicker(anchor, (emoji) => sendReaction(messageId, emoji, true));
}

export function sendReaction(messageId, emoji, on) {
  const room = state.room;
  if (!room || !sendFrame(room, { type: 'reaction', message_id: messageId, emoji, on })) {
    showChatError('Not connected: reactions can be sent once the connection is back.');
  }
}

/** A `reactions` frame: the message's whole state replaces what is shown. */
export function onReactions(room, frame) {
  const li = room.byId.get(frame.message_id);
  if (!li) return;
  const old = li.querySelector(':scope > .reactions');
  const focused = old && old.contains(document.activeElement) ? document.activeElement.dataset.emoji : null;
  const fresh = renderReactions(frame.message_id, frame.reactions);
  if (old) old.replaceWith(fresh); else li.append(fresh);
  if (focused) {
    const again = fresh.querySelector(`[data-emoji="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}
