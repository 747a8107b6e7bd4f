// Registration and login: name and password rules, argon2id hashes, one character per account
// who starts where the world's rules say, with its starting kit.
import { checkPassword, hashPassword } from '../auth/passwords.ts';
import type { AccountRecord, NewCharacter, StartingKit } from '../adapters/durable/DurableStore.ts';
import { planAdd } from '../domain/inventory.ts';
import type { InventoryEntry, UniqueItem } from '../domain/model.ts';
import { GameError } from '../errors.ts';
import { DELETED_GENERATION } from '../state/GameStateManager.ts';
import type { GameContext } from './context.ts';
import { removeFromWorld } from './presence.ts';

const USERNAME = /^[A-Za-z0-9_-]{3,20}$/;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 256;
/**
 * A UTF-16 half without its other half. argon2 hashes UTF-8, where every such half becomes U+FFFD:
 * two different passwords would then hash, and log in, alike.
 */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Whether `name` follows the registration rule: no other name can belong to an account. */
export function isUsername(name: string): boolean {
  return USERNAME.test(name);
}

export async function register(ctx: GameContext, username: string, password: string): Promise<AccountRecord> {
  if (!USERNAME.test(username)) throw new GameError('E_INVALID_USERNAME');
  checkNewPassword(username, password);
  const passwordHash = await hashPassword(password);
  return ctx.gsm.createAccount(username, passwordHash, newCharacter(ctx, username), startingKit(ctx));
}

function checkNewPassword(username: string, password: string): void {
  if (password.length < MIN_PASSWORD) throw new GameError('E_WEAK_PASSWORD');
  if (password.length > MAX_PASSWORD) throw new GameError('E_WEAK_PASSWORD', `Passwords are at most ${MAX_PASSWORD} characters.`);
  if (password.toLowerCase() === username.toLowerCase()) throw new GameError('E_WEAK_PASSWORD', 'The password must differ from the username.');
  if (LONE_SURROGATE.test(password)) throw new GameError('E_WEAK_PASSWORD', 'The password is not valid Unicode text.');
}

/**
 * Proves the current password as a login does, then sets the new one. Every token issued before
 * stops working, and the character's open session, wherever it is, is signed out: whoever knew
 * the old password is shut out. Answers the account as it now is.
 */
export async function changePassword(ctx: GameContext, username: string, password: string, newPassword: string): Promise<AccountRecord> {
  const account = await login(ctx, username, password);
  checkNewPassword(account.username, newPassword);
  if (newPassword === password) throw new GameError('E_WEAK_PASSWORD', 'The new password must differ from the current one.');
  // Refused while the hot store is away, before anything is written: the revocation goes there.
  await ctx.gsm.pingHotStore();
  const tokenGeneration = await ctx.gsm.changePassword(account, await hashPassword(newPassword));
  // Changed or banned while the password was checked: what was proven no longer holds.
  if (tokenGeneration === null) throw new GameError('E_BAD_CREDENTIALS', 'The account changed meanwhile; log in again.');
  signOut(ctx, account.characterId, tokenGeneration, 'password_changed');
  return { ...account, tokenGeneration };
}

/**
 * Bans an account or lifts its ban (an operator's act). A ban refuses logins and every token
 * issued so far, and signs the character's open session out. Null when no account has that name.
 */
export async function setBanned(ctx: GameContext, username: string, banned: boolean): Promise<AccountRecord | null> {
  if (!USERNAME.test(username)) return null;
  // A ban's revocation goes to the hot store: refused while it is away, before anything is written.
  if (banned) await ctx.gsm.pingHotStore();
  const account = await ctx.gsm.setBanned(username, banned);
  if (account && banned) signOut(ctx, account.characterId, account.tokenGeneration, 'banned');
  return account;
}

/**
 * Deletes the player's own account once they prove its password: the account, the character and
 * all they carry and wear are gone for good (what they dropped stays where it lies), and the name
 * is free again. Their open session is signed out and the character leaves the world at once.
 */
export async function deleteOwnAccount(ctx: GameContext, username: string, password: string): Promise<AccountRecord> {
  const account = await login(ctx, username, password);
  // The revocation and the removal go to the hot store: refused while it is away, before anything is written.
  await ctx.gsm.pingHotStore();
  const deleted = await ctx.gsm.deleteAccount(account.username, account.passwordHash);
  if (!deleted) throw new GameError('E_BAD_CREDENTIALS', 'The account changed meanwhile; log in again.');
  await leaveForGood(ctx, deleted.characterId);
  return deleted;
}

/** Deletes an account as an operator, banned or not. Null when no account has that name. */
export async function deleteAccount(ctx: GameContext, username: string): Promise<AccountRecord | null> {
  if (!USERNAME.test(username)) return null;
  await ctx.gsm.pingHotStore();
  const deleted = await ctx.gsm.deleteAccount(username, null);
  if (deleted) await leaveForGood(ctx, deleted.characterId);
  return deleted;
}

/**
 * After an auth that may have put the character in the world, then failed: a character whose
 * account was deleted meanwhile (loaded from the durable store just before the deletion, and put
 * back after the deletion took them out) leaves the world again.
 */
export async function removeIfDeleted(ctx: GameContext, characterId: number): Promise<void> {
  if ((await ctx.gsm.tokenFloor(characterId)) >= DELETED_GENERATION) await removeFromWorld(ctx, characterId);
}

async function leaveForGood(ctx: GameContext, characterId: number): Promise<void> {
  signOut(ctx, characterId, DELETED_GENERATION, 'deleted');
  await removeFromWorld(ctx, characterId);
}

/** `revoked`: found later, when the notice itself was missed (see services/presence.ts sessionEndings). */
export type SignOutReason = 'password_changed' | 'banned' | 'deleted' | 'revoked';

/** What the character's channel carries: sessions whose token is older than `generation` end. */
export interface SignedOut {
  reason: SignOutReason;
  generation: number;
}

const SIGNED_OUT_MESSAGES: Record<SignOutReason, string> = {
  password_changed: 'The password of this account was changed; log in with the new one.',
  banned: 'This account is banned.',
  deleted: 'This account was deleted.',
  revoked: 'Your session ended: the password of this account was changed, or it was banned or deleted. Log in again.',
};

export function signedOutMessage(reason: SignOutReason): string {
  return SIGNED_OUT_MESSAGES[reason];
}

function signOut(ctx: GameContext, characterId: number, generation: number, reason: SignOutReason): void {
  const notice: SignedOut = { reason, generation };
  ctx.events.toPlayer(characterId, 'signed_out', notice);
}

/** Whether a token of `generation` is still accepted for the character (see changePassword and setBanned). */
export async function tokenRevoked(ctx: GameContext, characterId: number, generation: number): Promise<boolean> {
  return (await ctx.gsm.tokenFloor(characterId)) > generation;
}

// Verifying against a fixed hash when the name is unknown keeps both failures equally slow.
let decoy: Promise<string> | undefined;

export async function login(ctx: GameContext, username: string, password: string): Promise<AccountRecord> {
  const account = USERNAME.test(username) ? await ctx.gsm.findAccount(username) : null;
  decoy ??= hashPassword('decoy password that never matches');
  // A password no registration accepts is still checked (against the decoy), to take as long.
  const wellFormed = !LONE_SURROGATE.test(password);
  const ok = (await checkPassword(wellFormed ? (account?.passwordHash ?? (await decoy)) : await decoy, password)) && wellFormed;
  if (!account || !ok) throw new GameError('E_BAD_CREDENTIALS');
  if (account.banned) throw new GameError('E_BAD_CREDENTIALS', 'This account is banned.');
  return account;
}

function newCharacter(ctx: GameContext, name: string): NewCharacter {
  const { rules } = ctx.catalog;
  return {
    name,
    locationId: rules.startLocation,
    hp: rules.startingHp ?? rules.maxHp,
    maxHp: rules.maxHp,
    stamina: rules.maxStamina,
    maxStamina: rules.maxStamina,
    level: 1,
    xp: 0,
    vitalsAt: ctx.now(),
  };
}

/** The rules' starting items, placed as a pickup would place them; unique items get their own ids. */
function startingKit(ctx: GameContext): StartingKit {
  const inventory = new Map<number, InventoryEntry>();
  const uniqueItems: UniqueItem[] = [];
  for (const { item, qty } of ctx.catalog.rules.startingItems) {
    const durability = ctx.catalog.items.get(item)?.durability;
    const units: InventoryEntry[] = durability === undefined ? [{ itemId: item, qty }] : [];
    for (let unit = 0; durability !== undefined && unit < qty; unit++) {
      const id = ctx.newId();
      uniqueItems.push({ id, itemId: item, durability, maxDurability: durability });
      units.push({ itemId: item, qty: 1, uniqueItemId: id });
    }
    for (const entry of units) {
      const plan = planAdd(ctx.catalog, inventory, new Map(), entry);
      if (!plan.ok) throw new Error(`the starting kit does not fit: ${plan.reason}`);
      for (const [slot, placed] of plan.writes) inventory.set(slot, placed);
    }
  }
  return { inventory: [...inventory], uniqueItems };
}
