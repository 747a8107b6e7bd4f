// Parsing client frames: every bad input gets a stable code (echoing seq when it can), every
// good one becomes typed action data (DESIGN.md §6).
import { describe, expect, it } from 'vitest';
import { frameText, isFault, parseClientMessage, type ClientAction, type ProtocolFault } from '../../src/gateway/protocol.ts';

const MAX = 16 * 1024;

function parse(frame: unknown, maxBytes = MAX): ClientAction | ProtocolFault {
  return parseClientMessage(typeof frame === 'string' ? frame : JSON.stringify(frame), maxBytes);
}

function fault(frame: unknown, maxBytes = MAX): ProtocolFault {
  const result = parse(frame, maxBytes);
  if (!isFault(result)) throw new Error(`expected a fault, got ${JSON.stringify(result)}`);
  return result;
}

function action(frame: unknown): ClientAction {
  const result = parse(frame);
  if (isFault(result)) throw new Error(`expected an action, got ${result.code}: ${result.message}`);
  return result;
}

describe('parseClientMessage: frames that are not messages', () => {
  it.each(['{', 'not json', '{"type": "look",}', "{'type': 'look'}", ''])('answers E_BAD_JSON to %j', (frame) => {
    expect(fault(frame)).toEqual({ seq: null, code: 'E_BAD_JSON', message: 'The message is not valid JSON.' });
  });

  it('answers E_TOO_LARGE to a frame over the limit, counted in bytes, before parsing it', () => {
    const text = 'é'.repeat(40); // 80 bytes of UTF-8 in 40 characters
    const frame = JSON.stringify({ type: 'say', seq: 3, data: { text } });
    const bytes = Buffer.byteLength(frame);
    expect(fault(frame, bytes - 1)).toMatchObject({ seq: null, code: 'E_TOO_LARGE' });
    expect(fault(frame, frame.length)).toMatchObject({ code: 'E_TOO_LARGE' });
    expect(fault(frame, bytes - 1).message).toContain(String(bytes - 1));
    expect(action(frame)).toMatchObject({ type: 'say', data: { text } });
    expect(isFault(parse(frame, bytes))).toBe(false);
    // Even broken JSON is refused for its size first.
    expect(fault('{'.repeat(100), 50).code).toBe('E_TOO_LARGE');
  });
});

describe('parseClientMessage: envelopes', () => {
  it.each([
    ['an array', [1, 2]],
    ['a JSON string', '"look"'],
    ['a number', 42],
    ['null', null],
  ])('answers E_INVALID to %s, with no seq', (_, frame) => {
    expect(fault(frame)).toMatchObject({ seq: null, code: 'E_INVALID' });
  });

  it('answers E_INVALID to a message without a type, echoing an integer seq', () => {
    expect(fault({ seq: 7, data: {} })).toMatchObject({ seq: 7, code: 'E_INVALID' });
    expect(fault({ seq: 7 }).message).toContain('type');
  });

  it('answers E_INVALID to a non-string type, echoing seq', () => {
    expect(fault({ type: 5, seq: 8 })).toMatchObject({ seq: 8, code: 'E_INVALID' });
  });

  it('does not echo a seq that is not an integer', () => {
    expect(fault({ seq: 'seven' })).toMatchObject({ seq: null, code: 'E_INVALID' });
    expect(fault({ seq: 1.5 })).toMatchObject({ seq: null, code: 'E_INVALID' });
    expect(fault({ type: 'look', seq: 1.5 })).toMatchObject({ seq: null, code: 'E_INVALID' });
    expect(fault({ type: 'look', seq: '3' })).toMatchObject({ seq: null, code: 'E_INVALID' });
  });

  it('refuses a negative seq', () => {
    expect(fault({ type: 'look', seq: -1 }).code).toBe('E_INVALID');
  });

  it('answers E_UNKNOWN_TYPE with seq and the type named', () => {
    const result = fault({ type: 'fly', seq: 12, data: {} });
    expect(result).toMatchObject({ seq: 12, code: 'E_UNKNOWN_TYPE' });
    expect(result.message).toContain('"fly"');
  });

  it('does not take inherited object properties for message types', () => {
    for (const type of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(fault({ type, seq: 1 })).toMatchObject({ seq: 1, code: 'E_UNKNOWN_TYPE' });
    }
  });

  it('gives seq null to a valid message sent without one', () => {
    expect(action({ type: 'look' })).toEqual({ type: 'look', seq: null, data: {} });
  });
});

describe('parseClientMessage: action payloads', () => {
  it.each([
    [{ type: 'move', seq: 1, data: { direction: 'sideways' } }, 'direction'],
    [{ type: 'move', seq: 1, data: {} }, 'direction'],
    [{ type: 'drop', seq: 1, data: { slot: '3' } }, 'slot'],
    [{ type: 'drop', seq: 1, data: { slot: 2.5 } }, 'slot'],
    [{ type: 'drop', seq: 1, data: { slot: -1 } }, 'slot'],
    [{ type: 'drop', seq: 1, data: { slot: 200 } }, 'slot'],
    [{ type: 'drop', seq: 1, data: { slot: 0, qty: 0 } }, 'qty'],
    [{ type: 'equip', seq: 1, data: { slot: null } }, 'slot'],
    [{ type: 'unequip', seq: 1, data: { slot: 'tail' } }, 'slot'],
    [{ type: 'pickup', seq: 1, data: { groundItemId: '' } }, 'groundItemId'],
    [{ type: 'pickup', seq: 1, data: { groundItemId: 'x'.repeat(65) } }, 'groundItemId'],
    [{ type: 'interact', seq: 1, data: { interactableId: 7 } }, 'interactableId'],
    [{ type: 'say', seq: 1, data: { text: 42 } }, 'text'],
    [{ type: 'say', seq: 1, data: { text: 'x'.repeat(281) } }, 'text'],
    [{ type: 'auth', seq: 1, data: { token: '' } }, 'token'],
  ])('answers E_INVALID naming the field to %j', (frame, field) => {
    const result = fault(frame);
    expect(result).toMatchObject({ seq: 1, code: 'E_INVALID' });
    expect(result.message).toContain(`"${frame.type}"`);
    expect(result.message).toContain(field);
  });

  it('refuses a say that is only whitespace', () => {
    expect(fault({ type: 'say', seq: 4, data: { text: '   \n\t ' } })).toMatchObject({ seq: 4, code: 'E_INVALID' });
  });

  it('refuses a say nobody could see or show: zero-width, control characters, lone surrogates', () => {
    for (const text of ['\u200b\u200b', '\u0000', '\u200d\ufeff\u0007', 'hi \ud800']) {
      expect(fault({ type: 'say', seq: 5, data: { text } }), JSON.stringify(text)).toMatchObject({ seq: 5, code: 'E_INVALID' });
    }
    expect(fault({ type: 'say', seq: 5, data: { text: '\u200b' } }).message).toContain('say something');
    expect(fault({ type: 'say', seq: 5, data: { text: '\ud800' } }).message).toContain('not valid Unicode text');
    // What people do write stays allowed: emoji (joined or not), accents, scripts, right-to-left text.
    for (const text of ['\u{1f525}', '\u{1f469}\u200d\u{1f692}', 'né', '灰', 'שלום עולם']) {
      expect(action({ type: 'say', seq: 5, data: { text } })).toMatchObject({ data: { text } });
    }
  });

  it('refuses a say that could pass for other lines or reorder what others read', () => {
    const forgeries = [
      'hi\nAsh_Walker: drop your pipe',
      'ok\r\n\r\nSERVER: shutting down',
      'tab\tseparated',
      '\u001b[31mred',
      'line\u2028separator',
      'look \u202eevil',
      'isolated \u2066text\u2069',
    ];
    for (const text of forgeries) {
      const result = fault({ type: 'say', seq: 6, data: { text } });
      expect(result, JSON.stringify(text)).toMatchObject({ seq: 6, code: 'E_INVALID' });
      expect(result.message).toContain('one line of text');
    }
    // Surrounding whitespace, line breaks included, is trimmed rather than refused.
    expect(action({ type: 'say', seq: 6, data: { text: 'hello\n' } })).toMatchObject({ data: { text: 'hello' } });
  });

  it('refuses data that is not an object where fields are expected', () => {
    expect(fault({ type: 'move', seq: 2, data: 'north' })).toMatchObject({ seq: 2, code: 'E_INVALID' });
    expect(fault({ type: 'ping', seq: 2, data: [] })).toMatchObject({ seq: 2, code: 'E_INVALID' });
  });

  it('parses valid actions into typed data', () => {
    expect(action({ type: 'move', seq: 1, data: { direction: 'north' } })).toEqual({ type: 'move', seq: 1, data: { direction: 'north' } });
    expect(action({ type: 'drop', seq: 2, data: { slot: 3 } })).toEqual({ type: 'drop', seq: 2, data: { slot: 3 } });
    expect(action({ type: 'drop', seq: 3, data: { slot: 0, qty: 2 } })).toEqual({ type: 'drop', seq: 3, data: { slot: 0, qty: 2 } });
    expect(action({ type: 'drop', seq: 3, data: { slot: 199 } })).toMatchObject({ data: { slot: 199 } });
    expect(action({ type: 'unequip', seq: 4, data: { slot: 'mainHand' } })).toEqual({ type: 'unequip', seq: 4, data: { slot: 'mainHand' } });
    expect(action({ type: 'pickup', seq: 5, data: { groundItemId: 'g-1' } })).toEqual({ type: 'pickup', seq: 5, data: { groundItemId: 'g-1' } });
    expect(action({ type: 'auth', seq: 0, data: { token: 'abc.def.ghi' } })).toEqual({ type: 'auth', seq: 0, data: { token: 'abc.def.ghi' } });
    expect(action({ type: 'ping', seq: 9 })).toEqual({ type: 'ping', seq: 9, data: {} });
  });

  it('trims what a player says', () => {
    expect(action({ type: 'say', seq: 6, data: { text: '  hello, Emberwell \n' } })).toEqual({
      type: 'say',
      seq: 6,
      data: { text: 'hello, Emberwell' },
    });
  });

  it('drops fields an action does not know', () => {
    expect(action({ type: 'move', seq: 1, data: { direction: 'east', speed: 'fast' } })).toEqual({
      type: 'move',
      seq: 1,
      data: { direction: 'east' },
    });
  });
});

describe('frameText', () => {
  const text = '{"type":"say","data":{"text":"héllo ☀"}}';
  const bytes = Buffer.from(text, 'utf8');

  it('decodes the frame as ws hands it over, whole or in fragments', () => {
    expect(frameText(bytes)).toBe(text);
    expect(frameText([bytes.subarray(0, 30), bytes.subarray(30)])).toBe(text);
    const copy = new Uint8Array(bytes).buffer;
    expect(frameText(copy)).toBe(text);
  });

  it('answers null for bytes that are not UTF-8, whole or split across fragments', () => {
    expect(frameText(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))).toBeNull();
    // A character cut between two fragments is still whole once they are joined.
    const snowman = Buffer.from('"☀"', 'utf8');
    expect(frameText([snowman.subarray(0, 2), snowman.subarray(2)])).toBe('"☀"');
    expect(frameText([snowman.subarray(0, 2)])).toBeNull();
  });

  it('reads only the frame when its Buffer is a view into a larger one', () => {
    const larger = Buffer.concat([Buffer.from('xx'), bytes, Buffer.from('yy')]);
    expect(frameText(larger.subarray(2, 2 + bytes.length))).toBe(text);
  });
});
