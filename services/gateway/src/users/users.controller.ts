import { Controller, Get, NotFoundException, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  DEFAULT_TOP_N,
  MAX_TOP_N,
  type ListUsersResponse,
  type PurchasesResponse,
  type RecommendationsResponse,
} from '@retail/common';
import type { z } from 'zod';
import { ExplanationsService, type ExplanationView } from '../explanations/explanations.service.js';
import { errorResponses, schemas } from '../http/openapi.js';
import { RecommendationClient } from '../recommendation-client/recommendation.client.js';
import {
  isCustomerNumber,
  listUsersQuery,
  productIdsQuery,
  topNQuery,
  userIdParam,
} from './users.schemas.js';

export interface RecommendationView {
  product_id: string;
  description: string;
  score: number;
  explanation: string | null;
  explanation_status: ExplanationView['explanation_status'];
  explanation_source: ExplanationView['explanation_source'];
}

export interface RecommendationsView {
  user_id: string;
  model: string;
  basis: RecommendationsResponse['basis'];
  recommendations: RecommendationView[];
  reason?: string;
  fallback?: string;
}

/** The storefront's API: thin; the work happens in the recommendation service and the explanation cache. */
@ApiTags('users')
@Controller('api/users')
export class UsersController {
  constructor(
    private readonly recommendation: RecommendationClient,
    private readonly explanations: ExplanationsService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Users with purchase history, optionally filtered by customer-number prefix' })
  @ApiQuery({
    name: 'query',
    required: false,
    description: 'customer number prefix (digits)',
    example: '178',
  })
  @ApiQuery({ name: 'limit', required: false, description: '1-1000, default 50' })
  @ApiQuery({ name: 'offset', required: false, description: 'default 0' })
  @ApiOkResponse({ schema: schemas.usersPage })
  @ApiResponse(errorResponses.badRequest)
  list(
    @Query({ schema: listUsersQuery }) query: z.output<typeof listUsersQuery>,
  ): Promise<ListUsersResponse> {
    return this.recommendation.listUsers(query);
  }

  @Get(':user_id/purchases')
  @ApiOperation({ summary: 'What the user bought (merchandise), most recent first' })
  @ApiParam({ name: 'user_id', example: '17850' })
  @ApiOkResponse({ schema: schemas.purchases })
  @ApiResponse(errorResponses.badRequest)
  @ApiResponse(errorResponses.notFound)
  @ApiResponse(errorResponses.unavailable)
  purchases(@Param('user_id', { schema: userIdParam }) userId: number): Promise<PurchasesResponse> {
    return this.recommendation.purchases(customer(userId));
  }

  @Get(':user_id/recommendations')
  @ApiOperation({
    summary: 'Products for the user, best first, with their explanations when ready',
    description:
      'Exact ranking of every product in the served model (RECOMMENDER_MODEL): `description`, cosine against the ' +
      'mean description vector of what the user bought; `copurchase` and `hybrid`, inner product with a vector ' +
      'learned from what customers bought together (`basis` says which, `fallback` when the description model ' +
      'stood in); products the user bought are left out. `explanation` is null while `explanation_status` is `pending`: poll ' +
      '`/recommendations/explanations`.',
  })
  @ApiParam({ name: 'user_id', example: '17850' })
  @ApiQuery({ name: 'top_n', required: false, description: `1-${MAX_TOP_N}, default ${DEFAULT_TOP_N}` })
  @ApiOkResponse({ schema: schemas.recommendations })
  @ApiResponse(errorResponses.badRequest)
  @ApiResponse(errorResponses.notFound)
  @ApiResponse(errorResponses.unavailable)
  async recommendations(
    @Param('user_id', { schema: userIdParam }) userId: number,
    @Query('top_n', { schema: topNQuery }) topN: number,
  ): Promise<RecommendationsView> {
    const answer = await this.recommendation.recommendations(customer(userId), topN);
    const explanations = await this.explanations.lookup(
      answer.user_id,
      answer.recommendations.map((r) => r.product_id),
    );
    return {
      ...answer,
      recommendations: answer.recommendations.map((r, i) => {
        const { explanation, explanation_status, explanation_source } = explanations[i]!;
        return { ...r, explanation, explanation_status, explanation_source };
      }),
    };
  }

  @Get(':user_id/recommendations/explanations')
  @ApiOperation({ summary: 'Explanation status and text of recommended products (what the page polls)' })
  @ApiParam({ name: 'user_id', example: '17850' })
  @ApiQuery({ name: 'product_ids', description: 'comma-separated product ids', example: '22632,84029E' })
  @ApiOkResponse({ schema: schemas.explanations })
  @ApiResponse(errorResponses.badRequest)
  async explanationsFor(
    @Param('user_id', { schema: userIdParam }) userId: number,
    @Query('product_ids', { schema: productIdsQuery }) productIds: string[],
  ): Promise<{ user_id: string; explanations: ExplanationView[] }> {
    const id = String(customer(userId));
    return { user_id: id, explanations: await this.explanations.lookup(id, productIds) };
  }
}

function customer(userId: number): number {
  if (!isCustomerNumber(userId)) throw new NotFoundException(`user ${userId} has no purchase history`);
  return userId;
}
