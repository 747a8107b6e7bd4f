// Session tokens: what the issuer signs it accepts back; anything forged, altered or expired
// is refused with E_BAD_TOKEN.
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TokenIssuer, type TokenClaims } from '../../src/auth/tokens.ts';
import { GameError } from '../../src/errors.ts';

const SECRET = 'a test secret that is long enough for HS256';
const claims: TokenClaims = { characterId: 17, accountId: 4, name: 'Wren', generation: 3 };
const key = (secret: string) => new TextEncoder().encode(secret);

async function expectBadToken(issuer: TokenIssuer, token: string): Promise<void> {
  const error: unknown = await issuer.verify(token).then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(GameError);
  expect(error).toMatchObject({ code: 'E_BAD_TOKEN' });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('TokenIssuer', () => {
  it('accepts back the claims of a token it issued', async () => {
    const issuer = new TokenIssuer(SECRET, 3600);
    const token = await issuer.issue(claims);
    expect(await issuer.verify(token)).toEqual(claims);
    // Another issuer with the same secret (another worker) accepts it too.
    expect(await new TokenIssuer(SECRET, 60).verify(token)).toEqual(claims);
  });

  it('refuses a token signed with another secret', async () => {
    const token = await new TokenIssuer('some other secret entirely', 3600).issue(claims);
    await expectBadToken(new TokenIssuer(SECRET, 3600), token);
  });

  it('refuses a token whose payload was altered', async () => {
    const issuer = new TokenIssuer(SECRET, 3600);
    const [header, , signature] = (await issuer.issue(claims)).split('.');
    const forged = Buffer.from(JSON.stringify({ sub: '1', acc: 1, name: 'Admin', exp: 4_102_444_800 })).toString('base64url');
    await expectBadToken(issuer, `${String(header)}.${forged}.${String(signature)}`);
  });

  it('refuses a token whose signature was altered', async () => {
    const issuer = new TokenIssuer(SECRET, 3600);
    const token = await issuer.issue(claims);
    // Not the last character: its low bits are base64 padding that a decoder may ignore.
    const at = token.length - 10;
    const swapped = token[at] === 'A' ? 'B' : 'A';
    await expectBadToken(issuer, token.slice(0, at) + swapped + token.slice(at + 1));
  });

  it('refuses garbage', async () => {
    const issuer = new TokenIssuer(SECRET, 3600);
    for (const token of ['', 'not-a-token', 'a.b.c', 'a.b']) await expectBadToken(issuer, token);
  });

  it('refuses a token that has expired', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 10, 21, 12), toFake: ['Date'] });
    const issuer = new TokenIssuer(SECRET, 1);
    const token = await issuer.issue(claims);
    expect(await issuer.verify(token)).toEqual(claims);
    vi.setSystemTime(Date.now() + 2_000);
    await expectBadToken(issuer, token);
  });

  it('refuses a correctly signed token whose exp is in the past', async () => {
    const token = await new SignJWT({ acc: claims.accountId, name: claims.name })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(String(claims.characterId))
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(key(SECRET));
    await expectBadToken(new TokenIssuer(SECRET, 3600), token);
  });

  it('refuses a correctly signed token without the claims a session needs', async () => {
    const sign = (payload: Record<string, unknown>, subject?: string) => {
      const jwt = new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h');
      return (subject === undefined ? jwt : jwt.setSubject(subject)).sign(key(SECRET));
    };
    const issuer = new TokenIssuer(SECRET, 3600);
    await expectBadToken(issuer, await sign({ acc: 4, name: 'Wren' }));
    await expectBadToken(issuer, await sign({ acc: 4, name: 'Wren' }, 'seventeen'));
    await expectBadToken(issuer, await sign({ name: 'Wren' }, '17'));
    await expectBadToken(issuer, await sign({ acc: '4', name: 'Wren' }, '17'));
    await expectBadToken(issuer, await sign({ acc: 4 }, '17'));
    // Only the decimal id the issuer writes: not what Number() would also read as one.
    for (const subject of [' 17 ', '0x11', '1.7e1', '017', '1e20', '99999999999999999', '0', '-17']) {
      await expectBadToken(issuer, await sign({ acc: 4, name: 'Wren' }, subject));
    }
    await expectBadToken(issuer, await sign({ acc: 4.5, name: 'Wren' }, '17'));
    for (const gen of ['3', -1, 2.5, null]) await expectBadToken(issuer, await sign({ acc: 4, name: 'Wren', gen }, '17'));
    expect(await issuer.verify(await sign({ acc: 4, name: 'Wren', gen: 3 }, '17'))).toEqual(claims);
    // Tokens issued before generations existed belong to the first.
    expect(await issuer.verify(await sign({ acc: 4, name: 'Wren' }, '17'))).toEqual({ ...claims, generation: 0 });
  });

  it('refuses a token signed with the same secret but another algorithm', async () => {
    const token = await new SignJWT({ acc: 4, name: 'Wren' })
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject('17')
      .setExpirationTime('1h')
      .sign(key(SECRET));
    await expectBadToken(new TokenIssuer(SECRET, 3600), token);
  });

  it('refuses an unsigned ("alg": "none") token', async () => {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub: '17', acc: 4, name: 'Wren', exp: 4_102_444_800 })}.`;
    await expectBadToken(new TokenIssuer(SECRET, 3600), unsigned);
  });
});
