/** Settings, the page's state and its elements: shared by every module. */

export const API_BASE = '/api/v1';
export const HISTORY_PAGE = 50;
export const MAX_MESSAGE_LENGTH = 1000;
export const MAX_ROOM_NAME_LENGTH = 100;
export const READ_DEBOUNCE_MS = 400;
/** Shown inline: the server serves only these as images, and only when they are. */
export const INLINE_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
export const TYPING_SEND_INTERVAL_MS = 2000;
export const TYPING_SHOW_MS = 3000;
export const RECONNECT_BASE_MS = 500;
export const RECONNECT_MAX_MS = 10000;
export const PENDING_TIMEOUT_MS = 15000;
export const ROOMS_REFRESH_MS = 20000;
export const NEAR_TOP_PX = 48;
export const NEAR_BOTTOM_PX = 80;

export const state = {
  user: null,
  rooms: [],
  room: null,
  roomsTimer: null,
  unread: new Map(),        // room id → {unread, mentions}
  notifier: null,           // the /ws/notifications socket
  notifierAttempts: 0,
  notifierTimer: null,
  baseTitle: document.title,
  replyTo: null,            // {id, username, excerpt} the composer answers
  drafts: new Map(),        // room id → text typed there and not sent
};

/** Elements looked up once, by id. */
export const ui = {};
