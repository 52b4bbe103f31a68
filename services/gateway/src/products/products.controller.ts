import { Body, Controller, Delete, Get, Param, Put, Query, applyDecorators } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  errorBody,
  product,
  productIdParam,
  productRequest,
  similarProducts,
  similarQuery,
  type Product,
  type ProductRequest,
  type SimilarProducts,
} from '@retail/contracts';
import type { z } from 'zod';
import { WriteEndpoint } from '../access/access.js';
import { RecommendationClient } from '../recommendation-client/recommendation.client.js';

const errors = {
  badRequest: { status: 400, description: 'a parameter or the body is malformed', standardSchema: errorBody },
  notFound: { status: 404, description: 'no product has this id', standardSchema: errorBody },
  unavailable: {
    status: 503,
    description: 'a service behind the gateway is down',
    standardSchema: errorBody,
  },
} as const;

type ProductId = z.output<typeof productIdParam>;

/** The `:product_id` of the path, validated by its schema. */
const ProductIdParam = (): ParameterDecorator => Param('product_id', { schema: productIdParam });

/** What every `:product_id` endpoint documents: the parameter, its answer, and the errors it can give. */
function ProductEndpoint(answer: z.ZodType, answers: string, { notFound = true } = {}): MethodDecorator {
  return applyDecorators(
    ApiParam({ name: 'product_id', example: '85123A' }),
    ApiOkResponse({ description: answers, standardSchema: answer }),
    ApiResponse(errors.badRequest),
    ...(notFound ? [ApiResponse(errors.notFound)] : []),
    ApiResponse(errors.unavailable),
  );
}

/** The catalog through the API: describe or retire a product (write), and "more like this" (read). */
@ApiTags('products')
@Controller('api/products')
export class ProductsController {
  constructor(private readonly recommendation: RecommendationClient) {}

  @Put(':product_id')
  @WriteEndpoint()
  @ApiOperation({
    operationId: 'putProduct',
    summary: 'Add a product, or change its description (and price)',
    description:
      "A new description is embedded through the embedder's queue; then the product is a candidate of the " +
      'description model, and of the hybrid through its description part until a training gives it co-purchase ' +
      'data. A retired product is back in the catalog. A new ingestion of the data file keeps what the shop said.',
  })
  @ProductEndpoint(product, 'the product as it is now', { notFound: false })
  put(
    @ProductIdParam() productId: ProductId,
    @Body({ schema: productRequest }) request: ProductRequest,
  ): Promise<Product> {
    return this.recommendation.putProduct(productId, request);
  }

  @Delete(':product_id')
  @WriteEndpoint()
  @ApiOperation({
    operationId: 'retireProduct',
    summary: 'Take a product out of the catalog: never recommended again, purchase history kept',
  })
  @ProductEndpoint(product, 'the product, retired')
  retire(@ProductIdParam() productId: ProductId): Promise<Product> {
    return this.recommendation.retireProduct(productId);
  }

  @Get(':product_id/similar')
  @ApiOperation({
    operationId: 'getSimilarProducts',
    summary: 'More like this: the products whose descriptions are closest, best first',
    description:
      "One pgvector query: cosine against the product's description vector in the description model; products " +
      'described exactly like it, retired ones and postage or fees are left out.',
  })
  @ProductEndpoint(similarProducts, 'the closest products')
  similar(
    @ProductIdParam() productId: ProductId,
    @Query({ schema: similarQuery }) query: z.output<typeof similarQuery>,
  ): Promise<SimilarProducts> {
    return this.recommendation.similarProducts(productId, query.top_n);
  }
}
