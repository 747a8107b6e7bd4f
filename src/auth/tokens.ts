// Signed, expiring session tokens (HS256 JWT). The subject is the character id.
import { SignJWT, jwtVerify } from 'jose';
import { GameError } from '../errors.ts';

/** A character id as the issuer writes it in `sub`. */
const ID = /^[1-9]\d{0,15}$/;

export interface TokenClaims {
  characterId: number;
  accountId: number;
  name: string;
  /** The account's token generation when issued: a password change or a ban raises it (AccountRecord). */
  generation: number;
}

export class TokenIssuer {
  private readonly key: Uint8Array;

  constructor(secret: string, private readonly ttlSeconds: number) {
    this.key = new TextEncoder().encode(secret);
  }

  issue(claims: TokenClaims): Promise<string> {
    return new SignJWT({ acc: claims.accountId, name: claims.name, gen: claims.generation })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(String(claims.characterId))
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
  }

  async verify(token: string): Promise<TokenClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] });
      // Only the decimal id the issuer writes: Number() would also take ' 1 ', '0x1' or '1e20'.
      const characterId = typeof payload.sub === 'string' && ID.test(payload.sub) ? Number(payload.sub) : NaN;
      const accountId = payload.acc;
      // Tokens issued before generations existed carry none: they belong to the first.
      const generation = payload.gen === undefined ? 0 : payload.gen;
      if (
        !Number.isSafeInteger(characterId) ||
        typeof accountId !== 'number' ||
        !Number.isSafeInteger(accountId) ||
        typeof payload.name !== 'string' ||
        typeof generation !== 'number' ||
        !Number.isSafeInteger(generation) ||
        generation < 0
      ) {
        throw new Error('claims missing');
      }
      return { characterId, accountId, name: payload.name, generation };
    } catch {
      throw new GameError('E_BAD_TOKEN');
    }
  }
}
