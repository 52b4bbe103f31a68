/**
 * The match score in words a shopper understands.
 *
 * `score` is the cosine similarity between the product's description embedding and the customer's taste
 * (the normalised mean embedding of everything they bought). Absolute cosines depend on the embedding model,
 * so the bands were chosen from the spread over the real catalogue: with the local model, the 12 best
 * products of 1 in 10 customers score 0.24-0.81 (median 0.40, 90th percentile 0.52), which puts about
 * 3 % of the cards in "Excellent", 23 % in "Strong", 53 % in "Good" and 21 % in "Some".
 *
 *   score >= 0.60  Excellent match  (a near neighbour of what they already buy)
 *   score >= 0.45  Strong match
 *   score >= 0.35  Good match
 *   below          Some match       (still among the customer's best products, but a looser fit)
 */
export type MatchLevel = 'excellent' | 'strong' | 'good' | 'some';

export interface Match {
  level: MatchLevel;
  label: string;
  /** 1-4, for the little gauge on the card. */
  strength: number;
}

const BANDS: { min: number; match: Match }[] = [
  { min: 0.6, match: { level: 'excellent', label: 'Excellent match', strength: 4 } },
  { min: 0.45, match: { level: 'strong', label: 'Strong match', strength: 3 } },
  { min: 0.35, match: { level: 'good', label: 'Good match', strength: 2 } },
];

const SOME: Match = { level: 'some', label: 'Some match', strength: 1 };

export function describeMatch(score: number): Match {
  return BANDS.find((band) => score >= band.min)?.match ?? SOME;
}
