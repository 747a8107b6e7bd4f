// Which service answers each authenticated action. The gateway holds no game rules.
import type { ActionSession, GameContext } from '../services/context.ts';
import { say } from '../services/chat.ts';
import { use } from '../services/consumables.ts';
import { equip, unequip } from '../services/equipment.ts';
import { interact } from '../services/interactables.ts';
import { drop, pickup, showInventory } from '../services/inventory.ts';
import { look, move } from '../services/movement.ts';
import type { ActionData, ActionType } from './protocol.ts';

type GameAction = Exclude<ActionType, 'auth' | 'ping'>;
type Handler<T extends GameAction> = (ctx: GameContext, characterId: number, data: ActionData<T>, session: ActionSession) => Promise<unknown>;

export const actions: { [T in GameAction]: Handler<T> } = {
  look: (ctx, id) => look(ctx, id),
  move: (ctx, id, { direction }, session) => move(ctx, id, direction, session),
  inventory: (ctx, id) => showInventory(ctx, id),
  pickup: (ctx, id, { groundItemId }, session) => pickup(ctx, id, groundItemId, session),
  drop: (ctx, id, { slot, qty }, session) => drop(ctx, id, slot, qty, session),
  equip: (ctx, id, { slot }, session) => equip(ctx, id, slot, session),
  unequip: (ctx, id, { slot }, session) => unequip(ctx, id, slot, session),
  use: (ctx, id, { slot }, session) => use(ctx, id, slot, session),
  interact: (ctx, id, { interactableId }, session) => interact(ctx, id, interactableId, session),
  say: (ctx, id, { text }) => say(ctx, id, text),
};
