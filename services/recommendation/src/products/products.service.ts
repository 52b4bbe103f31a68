import { Injectable } from '@nestjs/common';
import { isMerchandise, normaliseDescription } from '@retail/ingestion/cleaning';
import type { Product, SimilarProducts } from '@retail/contracts';
import { notFound } from '../errors.js';
import { KeptListsService } from '../ranking/kept-lists.service.js';
import { EmbeddingRequests } from './embedding-requests.js';
import { ProductsRepository } from './products.repository.js';

/**
 * The shop's catalog through the API: a product described (added, or its description changed) gets its
 * vector from the embedder's queue, after which it is a candidate of the description model at once and of
 * the hybrid through its description part (the refresh recomputes the lists); a retired product is never
 * recommended again, its purchases kept. "More like this" is one pgvector query in the description model.
 */
@Injectable()
export class ProductsService {
  constructor(
    private readonly repository: ProductsRepository,
    private readonly embeddings: EmbeddingRequests,
    private readonly lists: KeptListsService,
  ) {}

  async put(productId: string, description: string, unitPrice?: number): Promise<Product> {
    const text = normaliseDescription(description);
    const product = await this.repository.put(productId, text, isMerchandise(productId, text), unitPrice);
    this.embeddings.requestMissing();
    return product;
  }

  async retire(productId: string): Promise<Product> {
    const product = await this.repository.retire(productId);
    if (!product) throw notFound(`product ${productId} is not in the catalog`);
    return product;
  }

  async similar(productId: string, topN: number): Promise<SimilarProducts> {
    const model = this.lists.served.descriptionModel;
    const found = await this.repository.similar(model, productId, topN);
    if (!found.found) throw notFound(`product ${productId} is not in the catalog`);
    return {
      product_id: productId,
      model,
      products: found.products,
      ...(found.embedded
        ? found.products.length === 0
          ? { reason: 'no other product of the catalog has a vector yet' }
          : {}
        : {
            reason: `product ${productId} has no vector in model ${model} yet (the embedder is asked for it)`,
          }),
    };
  }
}
