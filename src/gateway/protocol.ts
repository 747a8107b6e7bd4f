// The WebSocket protocol (docs/protocol.md): client envelopes, per-action payload schemas, and
// the shapes of what the server sends back.
import { isUtf8 } from 'node:buffer';
import type { RawData } from 'ws';
import { z } from 'zod';
import { DIRECTIONS, EQUIP_SLOTS } from '../content/schema.ts';
import { ERRORS, type ErrorCode } from '../errors.ts';

const slot = z.number().int().min(0).max(199);
/** A UTF-16 half without its other half: no client could show it. */
const LONE_SURROGATE = /\p{Surrogate}/u;
/** Something a player would see: not only spaces, control or format characters (zero-width spaces). */
const VISIBLE = /[^\p{White_Space}\p{Cc}\p{Cf}]/u;
/**
 * Control characters (line breaks, escape sequences) and text-direction overrides and isolates:
 * inside a line of chat they let one player forge lines or reorder what others read.
 */
const LINE_BREAKERS = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

export const actionSchemas = {
  auth: z.object({ token: z.string().min(1).max(4096) }),
  ping: z.object({}),
  look: z.object({}),
  move: z.object({ direction: z.enum(DIRECTIONS) }),
  inventory: z.object({}),
  pickup: z.object({ groundItemId: z.string().min(1).max(64) }),
  drop: z.object({ slot, qty: z.number().int().positive().optional() }),
  equip: z.object({ slot }),
  unequip: z.object({ slot: z.enum(EQUIP_SLOTS) }),
  use: z.object({ slot }),
  interact: z.object({ interactableId: z.string().min(1).max(64) }),
  say: z.object({
    text: z
      .string()
      .trim()
      .min(1, 'say something')
      .max(280)
      .refine((text) => !LONE_SURROGATE.test(text), 'not valid Unicode text')
      .refine((text) => VISIBLE.test(text), 'say something')
      .refine((text) => !LINE_BREAKERS.test(text), 'one line of text, without control characters or direction overrides'),
  }),
} as const;

export type ActionType = keyof typeof actionSchemas;
export type ActionData<T extends ActionType> = z.infer<(typeof actionSchemas)[T]>;
export type ClientAction = { [T in ActionType]: { type: T; seq: number | null; data: ActionData<T> } }[ActionType];

const envelope = z.object({
  type: z.string().max(64),
  seq: z.number().int().nonnegative().optional(),
  data: z.unknown().optional(),
});

export interface ProtocolFault {
  seq: number | null;
  code: ErrorCode;
  message: string;
}

/**
 * A text frame's string, or null when its bytes are not UTF-8. `ws` is told not to check (it
 * would close the connection with 1007): the check is made here, so the client gets an error
 * and keeps its connection. A Buffer is decoded in place rather than copied first.
 */
export function frameText(raw: RawData): string | null {
  const bytes = Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
  return isUtf8(bytes) ? bytes.toString('utf8') : null;
}

/** A frame's size in bytes, as `ws` hands it over (one buffer, fragments, or an ArrayBuffer). */
export function frameBytes(raw: RawData): number {
  if (Array.isArray(raw)) return raw.reduce((total, part) => total + part.length, 0);
  return raw.byteLength;
}

function tooLarge(maxBytes: number): ProtocolFault {
  return { seq: null, code: 'E_TOO_LARGE', message: `Messages are limited to ${maxBytes} bytes.` };
}

/** Reads one frame as `ws` hands it over into an action, or the fault to answer with; a large one is refused undecoded. */
export function readClientFrame(raw: RawData, isBinary: boolean, maxBytes: number): ClientAction | ProtocolFault {
  if (isBinary) return { seq: null, code: 'E_INVALID', message: 'Send JSON text frames, not binary ones.' };
  if (frameBytes(raw) > maxBytes) return tooLarge(maxBytes);
  const text = frameText(raw);
  if (text === null) return { seq: null, code: 'E_BAD_JSON', message: 'The message is not valid UTF-8 text.' };
  return parseClientMessage(text, maxBytes);
}

/** Parses one client frame into an action, or the fault to answer with. Never throws. */
export function parseClientMessage(raw: string, maxBytes: number): ClientAction | ProtocolFault {
  if (Buffer.byteLength(raw) > maxBytes) return tooLarge(maxBytes);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { seq: null, code: 'E_BAD_JSON', message: ERRORS.E_BAD_JSON };
  }
  const parsed = envelope.safeParse(json);
  if (!parsed.success) {
    const seq = typeof json === 'object' && json !== null && 'seq' in json && Number.isInteger(json.seq) && Number(json.seq) >= 0 ? Number(json.seq) : null;
    return { seq, code: 'E_INVALID', message: `Expected {"type": string, "seq"?: integer, "data"?: object}: ${describe(parsed.error, 'message')}` };
  }
  const { type, seq = null, data = {} } = parsed.data;
  if (!Object.hasOwn(actionSchemas, type)) {
    return { seq, code: 'E_UNKNOWN_TYPE', message: `Unknown message type "${type}".` };
  }
  const schema = actionSchemas[type as ActionType];
  const payload = schema.safeParse(data);
  if (!payload.success) return { seq, code: 'E_INVALID', message: `Invalid "${type}": ${describe(payload.error, 'data')}` };
  return { type, seq, data: payload.data } as ClientAction;
}

export function isFault(message: ClientAction | ProtocolFault): message is ProtocolFault {
  return 'code' in message;
}

function describe(error: z.ZodError, root: string): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : root}: ${issue.message}`)
    .join('; ');
}

export function okFrame(seq: number | null, data: unknown): string {
  return JSON.stringify({ type: 'ok', seq, data, ts: Date.now() });
}

export function errorFrame(seq: number | null, code: ErrorCode, message: string): string {
  return JSON.stringify({ type: 'error', seq, data: { code, message }, ts: Date.now() });
}

export function eventFrame(type: string, data: unknown, ts: number): string {
  return JSON.stringify({ type, data, ts });
}
