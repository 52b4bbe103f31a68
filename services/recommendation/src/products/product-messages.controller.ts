import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  MAX_TOP_N,
  RecommendationPatterns,
  type KnownProductsRequest,
  type KnownProductsResponse,
} from '@retail/common';
import { badRequest } from '../errors.js';
import { ProductsRepository } from './products.repository.js';

/** products.known: which product ids exist, so that the gateway answers 404 for the others. */
@Controller()
export class ProductMessagesController {
  constructor(private readonly products: ProductsRepository) {}

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
}
