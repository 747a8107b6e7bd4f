// Signed, expiring session tokens (HS256 JWT). The subject is the character id.
import { SignJWT, jwtVerify } from 'jose';
import { GameError } from '../errors.ts';

export interface TokenClaims {
  characterId: number;
  accountId: number;
  name: string;
}

export class TokenIssuer {
  private readonly key: Uint8Array;

  constructor(secret: string, private readonly ttlSeconds: number) {
    this.key = new TextEncoder().encode(secret);
  }

  issue(claims: TokenClaims): Promise<string> {
    return new SignJWT({ acc: claims.accountId, name: claims.name })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(String(claims.characterId))
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
  }

  async verify(token: string): Promise<TokenClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] });
      const characterId = Number(payload.sub);
      if (!Number.isInteger(characterId) || typeof payload.acc !== 'number' || typeof payload.name !== 'string') {
        throw new Error('claims missing');
      }
      return { characterId, accountId: payload.acc, name: payload.name };
    } catch {
      throw new GameError('E_BAD_TOKEN');
    }
  }
}
