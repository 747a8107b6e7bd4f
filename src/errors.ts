// The one catalogue of error codes a client can receive, each with its default human message.

export const ERRORS = {
  E_BAD_JSON: 'The message is not valid JSON.',
  E_TOO_LARGE: 'The message is larger than the server accepts.',
  E_UNKNOWN_TYPE: 'Unknown message type.',
  E_INVALID: 'The message does not have the expected fields.',
  E_UNAUTHENTICATED: 'Authenticate first.',
  E_BAD_TOKEN: 'The token is invalid or has expired; log in again.',
  E_ALREADY_AUTHENTICATED: 'This connection is already authenticated.',
  E_RATE_LIMITED: 'Too many requests; slow down.',
  E_USERNAME_TAKEN: 'That username is taken.',
  E_INVALID_USERNAME: 'Usernames are 3 to 20 letters, digits, dashes or underscores.',
  E_WEAK_PASSWORD: 'Passwords need at least 8 characters.',
  E_BAD_CREDENTIALS: 'Wrong username or password.',
  E_NO_EXIT: 'There is no way in that direction.',
  E_COOLDOWN: 'You cannot do that again yet.',
  E_NO_STAMINA: 'You are too exhausted.',
  E_ITEM_GONE: 'That item is not here.',
  E_SLOT_EMPTY: 'There is nothing in that slot.',
  E_NOT_ENOUGH: 'You do not have that many.',
  E_INVENTORY_FULL: 'Your inventory is full.',
  E_TOO_HEAVY: 'That would be too heavy to carry.',
  E_GROUND_FULL: 'There is no room left on the ground here.',
  E_NOT_EQUIPPABLE: 'That cannot be equipped.',
  E_NOT_USABLE: 'That cannot be used.',
  E_NOTHING_EQUIPPED: 'Nothing is equipped in that slot.',
  E_NO_SUCH_THING: 'There is no such thing here.',
  E_DEAD: 'You are dead.',
  E_CONFLICT: 'Something changed at the same moment; try again.',
  E_SESSION_REPLACED: 'This character connected from somewhere else.',
  E_SIGNED_OUT: 'You were signed out; log in again.',
  E_SESSION_RELEASED: 'The server lost contact with the game for a while and let your session go; reconnect to carry on.',
  E_DEGRADED: 'The game is briefly unavailable; try again in a moment.',
  E_STORAGE_UNAVAILABLE: 'Storage is unavailable; try again later.',
  E_SHUTTING_DOWN: 'The server is shutting down.',
  E_BUSY: 'That is already under way; try again in a moment.',
  E_NOT_FOUND: 'Not found.',
  E_INTERNAL: 'Something went wrong on the server.',
} as const;

/** E_BAD_TOKEN's message for a token still signed and unexpired, but refused by its account. */
export const TOKEN_REVOKED = 'This token was revoked: the password was changed, or the account banned or deleted. Log in again.';

/** E_BAD_TOKEN's message for a token whose character id now belongs to another character (the store was restored or wiped). */
export const TOKEN_OF_ANOTHER = 'This token was issued for a character this server no longer has under that id. Log in again.';

export type ErrorCode = keyof typeof ERRORS;

/** A refusal a client should see: a stable code and a message for people. */
export class GameError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string = ERRORS[code]) {
    super(message);
    this.code = code;
    this.name = 'GameError';
  }
}

export function isGameError(error: unknown): error is GameError {
  return error instanceof GameError;
}
