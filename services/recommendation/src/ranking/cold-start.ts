/**
 * The cold-start rule, the same for serving and for `npm run eval`: a co-purchase or hybrid model answers a
 * customer only when at least `minPurchases` (RECOMMENDER_MIN_PURCHASES) of their merchandise purchases have a
 * vector in it (`withVectors`, what the ranking query counts); below that the description model stands in.
 */
export function descriptionStandsIn(withVectors: number, minPurchases: number): boolean {
  return withVectors < minPurchases;
}
