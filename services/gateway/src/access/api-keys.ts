import { hash, timingSafeEqual } from 'node:crypto';

const digest = (key: string): Buffer => hash('sha256', key, 'buffer');

/**
 * The API keys (API_KEYS), held as SHA-256 digests. A presented key is compared with every configured one in
 * constant time: equal-length digests through timingSafeEqual, and no early exit, so neither the time nor
 * the order of the keys tells how much of a guess was right.
 */
export class ApiKeys {
  private readonly digests: Buffer[];
  private readonly ids: string[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
    // A short digest names a key in the rate limits' Redis keys: stable, and never the key itself.
    this.ids = this.digests.map((d) => d.toString('hex').slice(0, 16));
  }

  get configured(): boolean {
    return this.digests.length > 0;
  }

  /** The id of the configured key equal to `presented`, or undefined when none is. */
  match(presented: string): string | undefined {
    const given = digest(presented);
    let found = -1;
    for (let i = 0; i < this.digests.length; i++) {
      if (timingSafeEqual(given, this.digests[i]!)) found = i;
    }
    return found < 0 ? undefined : this.ids[found];
  }
}
