import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  MAX_TOP_N,
  RecommendationPatterns,
  type KnownProductsRequest,
  type KnownProductsResponse,
  type Product,
  type ProductIdRequest,
  type PutProductRequest,
  type SimilarProducts,
  type SimilarProductsRequest,
} from '@retail/contracts';
import { badRequest } from '../errors.js';
import { ProductsRepository } from './products.repository.js';
import { ProductsService } from './products.service.js';

/**
 * The catalog's message patterns: products.known (which ids exist, so that the gateway answers 404 for the
 * others), products.put and products.retire (the write API), products.similar ("more like this"). The
 * gateway has validated the requests with the HTTP schemas.
 */
@Controller()
export class ProductMessagesController {
  constructor(
    private readonly products: ProductsRepository,
    private readonly catalog: ProductsService,
  ) {}

  @MessagePattern(RecommendationPatterns.KnownProducts)
  async known(@Payload() request: KnownProductsRequest): Promise<KnownProductsResponse> {
    const ids: unknown = request?.productIds;
    if (
      !Array.isArray(ids) ||
      ids.length > MAX_TOP_N ||
      !ids.every((id): id is string => typeof id === 'string')
    ) {
      throw badRequest(`productIds must be a list of at most ${MAX_TOP_N} product ids`);
    }
    const known = await this.products.known(ids);
    return { known: ids.filter((id) => known.has(id)) };
  }

  @MessagePattern(RecommendationPatterns.PutProduct)
  put(@Payload() request: PutProductRequest): Promise<Product> {
    return this.catalog.put(request.productId, request.description, request.unitPrice);
  }

  @MessagePattern(RecommendationPatterns.RetireProduct)
  retire(@Payload() request: ProductIdRequest): Promise<Product> {
    return this.catalog.retire(request.productId);
  }

  @MessagePattern(RecommendationPatterns.SimilarProducts)
  similar(@Payload() request: SimilarProductsRequest): Promise<SimilarProducts> {
    return this.catalog.similar(request.productId, request.topN);
  }
}
