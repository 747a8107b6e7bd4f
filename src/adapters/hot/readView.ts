// A consistent read of several hashes in one round trip, defined once as Lua and as its in-memory
// twin (like atomicOps.ts). Some keys are only known from what is read: a player's location names
// the location's keys, and inventory entries name unique items. Reading those in Node would cost a
// round trip, and one ioredis command, per key; one script answers an action's whole view.
//
// The script reads keys it cannot declare (they are found while it runs), so like the pick-up and
// drop scripts it needs them on one Redis primary (DESIGN.md §4). It never writes.
import { assertKind, hashOf, setOf, type MemoryData, type ScriptCall } from './atomicOps.ts';

/** A key made from a value read in the same script: `prefix + value + suffix`. */
export interface KeyPattern {
  prefix: string;
  suffix: string;
}

export interface HotView {
  /** Hashes read whole, in this order. */
  hashes: readonly string[];
  /** Keys named by a field of `hashes[0]` (e.g. the location a player stands in). */
  place?: {
    field: string;
    /** Hashes read whole, e.g. the ground of that location. */
    hashes: readonly KeyPattern[];
    /** A set of members and, of each member's hash, only these fields (e.g. who is there, by name). */
    members?: { set: KeyPattern; hash: KeyPattern; fields: readonly string[] };
  };
  /**
   * Hashes named by a string property of the JSON values of some of `hashes` (0-based indexes),
   * e.g. the unique items an inventory holds. Values that are not JSON objects are passed over.
   */
  refs?: { from: readonly number[]; property: string; hash: KeyPattern };
}

export interface ViewMember {
  member: string;
  /** The asked fields of the member's hash, null where absent. */
  fields: (string | null)[];
}

export interface HotViewResult {
  hashes: Record<string, string>[];
  /** Null when no place was asked for or `hashes[0]` lacks the field. */
  place: { value: string; hashes: Record<string, string>[]; members: ViewMember[] } | null;
  /** Referenced hashes by the referencing value (missing hashes are absent). */
  refs: Map<string, Record<string, string>>;
}

const keyOf = (pattern: KeyPattern, value: string) => pattern.prefix + value + pattern.suffix;

function recordOf(reply: unknown): Record<string, string> {
  const flat = arrayOf(reply);
  const record: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) record[String(flat[i])] = String(flat[i + 1]);
  return record;
}

function arrayOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  // Lua cannot tell an empty array from an empty object: cjson writes both as {}.
  if (typeof value === 'object' && value !== null && Object.keys(value).length === 0) return [];
  throw new Error('readView: unexpected reply');
}

/** The property of a JSON object value, when it is a string. */
function referenced(raw: string, property: string): string | undefined {
  try {
    const json: unknown = JSON.parse(raw);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
    const value: unknown = Reflect.get(json, property);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Views come in a few constant shapes: each shape's place or refs is encoded once. */
const encodedSpecs = new WeakMap<object, string>();

function encodedSpec({ place, refs }: HotView): string {
  const shape = place && refs ? undefined : (place ?? refs);
  const cached = shape && encodedSpecs.get(shape);
  if (cached !== undefined) return cached;
  const pattern = (p: KeyPattern) => [p.prefix, p.suffix];
  const spec = {
    ...(place
      ? {
          place: {
            field: place.field,
            hashes: place.hashes.map(pattern),
            ...(place.members
              ? { members: { set: pattern(place.members.set), hash: pattern(place.members.hash), fields: place.members.fields } }
              : {}),
          },
        }
      : {}),
    ...(refs ? { refs: { from: refs.from, property: refs.property, hash: pattern(refs.hash) } } : {}),
  };
  const encoded = JSON.stringify(spec);
  if (shape) encodedSpecs.set(shape, encoded);
  return encoded;
}

export const readViewOp = {
  name: 'cinderReadView',
  /**
   * KEYS: `hashes`. ARGV[1]: the view as JSON. Replies JSON [hashes, place, refs]: each hash as
   * its flat HGETALL array; place as [] or [value, hashes, members] with members flattened
   * (member, field…, member, field…; an absent field is false); refs flattened (value, hash…).
   */
  lua: `
local view = cjson.decode(ARGV[1])
local hashes = {}
for i = 1, #KEYS do hashes[i] = redis.call('HGETALL', KEYS[i]) end
local place = {}
if view.place then
  local value = redis.call('HGET', KEYS[1], view.place.field)
  if value then
    local placeHashes = {}
    for i, p in ipairs(view.place.hashes) do placeHashes[i] = redis.call('HGETALL', p[1] .. value .. p[2]) end
    local members = {}
    local m = view.place.members
    if m then
      for _, member in ipairs(redis.call('SMEMBERS', m.set[1] .. value .. m.set[2])) do
        members[#members + 1] = member
        local fields = redis.call('HMGET', m.hash[1] .. member .. m.hash[2], unpack(m.fields))
        for f = 1, #m.fields do members[#members + 1] = fields[f] end
      end
    end
    place = { value, placeHashes, members }
  end
end
local refs = {}
if view.refs then
  local seen = {}
  for _, i in ipairs(view.refs.from) do
    local flat = hashes[i + 1]
    for v = 2, #flat, 2 do
      local ok, json = pcall(cjson.decode, flat[v])
      if ok and type(json) == 'table' then
        local id = json[view.refs.property]
        if type(id) == 'string' and not seen[id] then
          seen[id] = true
          local hash = redis.call('HGETALL', view.refs.hash[1] .. id .. view.refs.hash[2])
          if #hash > 0 then
            refs[#refs + 1] = id
            refs[#refs + 1] = hash
          end
        end
      end
    end
  end
end
-- One JSON string rather than nested arrays: a client decodes it with one JSON.parse instead of
-- parsing RESP value by value (cjson writes an empty table as {}; decode reads that as []).
return cjson.encode({ hashes, place, refs })
`,

  encode(view: HotView): ScriptCall {
    const { place, refs } = view;
    if (place?.members?.fields.length === 0) throw new RangeError('readView: members need at least one field');
    if ((place || refs) && view.hashes.length === 0) throw new RangeError('readView: a place or refs need hashes to read from');
    return { keys: [...view.hashes], argv: [encodedSpec(view)] };
  },

  decode(view: HotView, reply: unknown): HotViewResult {
    if (typeof reply !== 'string') throw new Error('readView: unexpected reply');
    const [hashes, place, refs] = arrayOf(JSON.parse(reply));
    const placeReply = arrayOf(place);
    const width = (view.place?.members?.fields.length ?? 0) + 1;
    const flatMembers = placeReply.length === 0 ? [] : arrayOf(placeReply[2]);
    const members: ViewMember[] = [];
    for (let i = 0; i < flatMembers.length; i += width) {
      members.push({
        member: String(flatMembers[i]),
        fields: flatMembers.slice(i + 1, i + width).map((field) => (typeof field === 'string' ? field : null)),
      });
    }
    const flatRefs = arrayOf(refs);
    const found = new Map<string, Record<string, string>>();
    for (let i = 0; i < flatRefs.length; i += 2) found.set(String(flatRefs[i]), recordOf(flatRefs[i + 1]));
    return {
      hashes: arrayOf(hashes).map(recordOf),
      place:
        placeReply.length === 0
          ? null
          : { value: String(placeReply[0]), hashes: arrayOf(placeReply[1]).map(recordOf), members },
      refs: found,
    };
  },

  memory(data: MemoryData, now: number, view: HotView): HotViewResult {
    readViewOp.encode(view); // the same refusals as Redis
    const readHash = (key: string): Record<string, string> => {
      assertKind(data, key, 'hash', now);
      return Object.fromEntries(hashOf(data, key) ?? []);
    };
    const hashes = view.hashes.map(readHash);
    let place: HotViewResult['place'] = null;
    const value = view.place ? hashes[0]?.[view.place.field] : undefined;
    if (view.place && value !== undefined) {
      const { members } = view.place;
      const memberList: ViewMember[] = [];
      if (members) {
        const setKey = keyOf(members.set, value);
        assertKind(data, setKey, 'set', now);
        for (const member of setOf(data, setKey) ?? []) {
          const hash = readHash(keyOf(members.hash, member));
          memberList.push({ member, fields: members.fields.map((field) => hash[field] ?? null) });
        }
      }
      place = { value, hashes: view.place.hashes.map((p) => readHash(keyOf(p, value))), members: memberList };
    }
    const refs = new Map<string, Record<string, string>>();
    for (const index of view.refs?.from ?? []) {
      for (const raw of Object.values(hashes[index] ?? {})) {
        const id = view.refs ? referenced(raw, view.refs.property) : undefined;
        if (id === undefined || refs.has(id) || !view.refs) continue;
        const hash = readHash(keyOf(view.refs.hash, id));
        if (Object.keys(hash).length > 0) refs.set(id, hash);
      }
    }
    return { hashes, place, refs };
  },
} as const;
