// Registration and login: name and password rules, argon2id hashes, one character per account.
import { checkPassword, hashPassword } from '../auth/passwords.ts';
import type { AccountRecord } from '../adapters/durable/DurableStore.ts';
import { GameError } from '../errors.ts';
import type { GameStateManager } from '../state/GameStateManager.ts';

const USERNAME = /^[A-Za-z0-9_-]{3,20}$/;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 256;

export async function register(gsm: GameStateManager, username: string, password: string): Promise<AccountRecord> {
  if (!USERNAME.test(username)) throw new GameError('E_INVALID_USERNAME');
  if (password.length < MIN_PASSWORD) throw new GameError('E_WEAK_PASSWORD');
  if (password.length > MAX_PASSWORD) throw new GameError('E_WEAK_PASSWORD', `Passwords are at most ${MAX_PASSWORD} characters.`);
  if (password.toLowerCase() === username.toLowerCase()) throw new GameError('E_WEAK_PASSWORD', 'The password must differ from the username.');
  return gsm.createAccount(username, await hashPassword(password));
}

// Verifying against a fixed hash when the name is unknown keeps both failures equally slow.
let decoy: Promise<string> | undefined;

export async function login(gsm: GameStateManager, username: string, password: string): Promise<AccountRecord> {
  const account = USERNAME.test(username) ? await gsm.findAccount(username) : null;
  decoy ??= hashPassword('decoy password that never matches');
  const ok = await checkPassword(account?.passwordHash ?? (await decoy), password);
  if (!account || !ok) throw new GameError('E_BAD_CREDENTIALS');
  if (account.banned) throw new GameError('E_BAD_CREDENTIALS', 'This account is banned.');
  return account;
}
