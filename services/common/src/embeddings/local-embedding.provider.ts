import { LOCAL_EMBEDDING_MODEL } from '../config/config.js';
import type { EmbeddingProvider } from './embedding-provider.js';
import { normaliseInPlace } from './vectors.js';

const WORD_WEIGHT = 1;
const BIGRAM_WEIGHT = 0.5;
const CHAR_GRAM_WEIGHT = 0.3;

/**
 * The offline embedding model: deterministic, no network, fast. Each text becomes a bag of hashed
 * features — its words, its adjacent word pairs, and the 3- and 4-character pieces of each word — folded
 * into `dimensions` buckets with a hash-derived sign (the "hashing trick"), then L2-normalised. Products
 * sharing words land close together ("HAND WARMER RED RETROSPOT" / "HAND WARMER UNION JACK"), and so do
 * products sharing word pieces ("CAKESTAND" / "CAKE STAND", "T-LIGHT" / "TLIGHT"); unrelated texts come
 * out nearly orthogonal.
 */
export class LocalEmbeddingProvider implements EmbeddingProvider {
  readonly model = LOCAL_EMBEDDING_MODEL;

  constructor(readonly dimensions = 1024) {}

  embed(texts: string[]): Promise<Float32Array[]> {
    return Promise.resolve(texts.map((text) => this.embedOne(text)));
  }

  embedOne(text: string): Float32Array {
    const v = new Float32Array(this.dimensions);
    const words = text
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .split(/[^\p{L}\p{N}]+/u)
      .filter((word) => word.length > 0);
    if (words.length === 0) {
      this.add(v, `raw:${text}`, 1);
      return normaliseInPlace(v);
    }
    for (let i = 0; i < words.length; i++) {
      const word = words[i]!;
      this.add(v, `w:${word}`, WORD_WEIGHT);
      if (i > 0) this.add(v, `b:${words[i - 1]} ${word}`, BIGRAM_WEIGHT);
      const padded = `<${word}>`;
      for (let n = 3; n <= 4; n++) {
        for (let start = 0; start + n <= padded.length; start++) {
          this.add(v, `c:${padded.slice(start, start + n)}`, CHAR_GRAM_WEIGHT);
        }
      }
    }
    return normaliseInPlace(v);
  }

  private add(v: Float32Array, feature: string, weight: number): void {
    const hash = fnv1a(feature);
    const index = hash % this.dimensions;
    v[index]! += (hash & 0x80000000) === 0 ? weight : -weight;
  }
}

/** 32-bit FNV-1a over UTF-16 code units: fast, deterministic, well spread. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
