/** The figures of an offline evaluation at cut-off K, averaged over the evaluated users. */
export interface RankingMetrics {
  /** Hit rate: the share of users with at least one of their new purchases in their top K. */
  hr: number;
  /** NDCG@K with binary relevance; the ideal ranking puts min(K, |new purchases|) hits first. */
  ndcg: number;
  /** Recall@K: hits / |new purchases|, averaged over users. */
  recall: number;
  /** Catalog coverage: distinct products recommended to anyone / products in the catalog. */
  coverage: number;
  users: number;
}

/**
 * Scores top-K lists against what each user bought afterwards. `lists` maps each evaluated user to their
 * ranked products (at most K are read); `targets` maps them to the products they bought new in the test
 * period (users without a target are not evaluated). Throws on K < 1 or an empty catalog.
 */
export function rankingMetrics(
  lists: ReadonlyMap<number, readonly string[]>,
  targets: ReadonlyMap<number, ReadonlySet<string>>,
  k: number,
  catalogSize: number,
): RankingMetrics {
  if (!Number.isInteger(k) || k < 1) throw new Error('K must be a positive integer');
  if (catalogSize < 1) throw new Error('the catalog is empty');
  let hits = 0;
  let ndcg = 0;
  let recall = 0;
  let users = 0;
  const recommended = new Set<string>();
  for (const [user, wanted] of targets) {
    if (wanted.size === 0) continue;
    users++;
    const list = (lists.get(user) ?? []).slice(0, k);
    let found = 0;
    let dcg = 0;
    list.forEach((product, rank) => {
      recommended.add(product);
      if (wanted.has(product)) {
        found++;
        dcg += 1 / Math.log2(rank + 2);
      }
    });
    let ideal = 0;
    for (let rank = 0; rank < Math.min(k, wanted.size); rank++) ideal += 1 / Math.log2(rank + 2);
    if (found > 0) hits++;
    ndcg += dcg / ideal;
    recall += found / wanted.size;
  }
  const per = (x: number) => (users === 0 ? 0 : x / users);
  return {
    hr: per(hits),
    ndcg: per(ndcg),
    recall: per(recall),
    coverage: recommended.size / catalogSize,
    users,
  };
}

/**
 * The K best indices of `scores` (highest first), skipping `excluded` (a set of indices, or a mask with 1 at
 * the excluded ones); ties go to the lower index (the
 * catalog is sorted by product id, as the service breaks ties). -Infinity scores are never picked.
 */
export function topK(
  scores: ArrayLike<number>,
  k: number,
  excluded: ReadonlySet<number> | Uint8Array,
): number[] {
  const mask = excluded instanceof Uint8Array ? excluded : undefined;
  const set = excluded instanceof Uint8Array ? undefined : excluded;
  const best: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (s === -Infinity || (mask ? mask[i] === 1 : set!.has(i))) continue;
    if (best.length === k && s <= scores[best[k - 1]!]!) continue;
    let at = best.length;
    while (at > 0 && scores[best[at - 1]!]! < s) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}
