import { Controller, Get, NotFoundException, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { DEFAULT_TOP_N, MAX_TOP_N, type ListUsersResponse, type PurchasesResponse } from '@retail/common';
import type { z } from 'zod';
import { errorResponses, schemas } from '../http/openapi.js';
import {
  UserRecommendationsService,
  type ExplanationUrgency,
  type ExplanationsView,
  type RecommendationsView,
} from './user-recommendations.service.js';
import {
  customerId,
  explanationsUrgencyQuery,
  listUsersQuery,
  productIdsQuery,
  topNQuery,
  userIdParam,
} from './users.schemas.js';

/** The storefront's API: thin; UserRecommendationsService composes the answers. */
@ApiTags('users')
@Controller('api/users')
export class UsersController {
  constructor(private readonly users: UserRecommendationsService) {}

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
    return this.users.listUsers(query);
  }

  @Get(':user_id/purchases')
  @ApiOperation({ summary: 'What the user bought (merchandise), most recent first' })
  @ApiParam({ name: 'user_id', example: '17850' })
  @ApiOkResponse({ schema: schemas.purchases })
  @ApiResponse(errorResponses.badRequest)
  @ApiResponse(errorResponses.notFound)
  @ApiResponse(errorResponses.unavailable)
  purchases(@Param('user_id', { schema: userIdParam }) userId: string): Promise<PurchasesResponse> {
    return this.users.purchases(customer(userId));
  }

  @Get(':user_id/recommendations')
  @ApiOperation({
    summary: 'Products for the user, best first, with their explanations when ready',
    description:
      'Exact ranking of every product in the served model (RECOMMENDER_MODEL): `description`, cosine against ' +
      'the mean description vector of what the user bought; `copurchase` and `hybrid`, inner product with a ' +
      'vector learned from what customers bought together (`basis` says which, `fallback` when the ' +
      'description model stood in); products the user bought are left out. `explanation` is null while ' +
      '`explanation_status` is `pending`: poll `/recommendations/explanations`. With `explanations=now` a ' +
      'person is waiting for the sentences: they are written before any background work (the template ' +
      'sentence, marked `failed`, stands in when the model takes longer than a few seconds). By default they ' +
      'are background work, written within the background budget or when someone polls them.',
  })
  @ApiParam({ name: 'user_id', example: '17850' })
  @ApiQuery({ name: 'top_n', required: false, description: `1-${MAX_TOP_N}, default ${DEFAULT_TOP_N}` })
  @ApiQuery({
    name: 'explanations',
    required: false,
    enum: ['now', 'background'],
    description: '`now` when a person waits for the explanations; default `background`',
  })
  @ApiOkResponse({ schema: schemas.recommendations })
  @ApiResponse(errorResponses.badRequest)
  @ApiResponse(errorResponses.notFound)
  @ApiResponse(errorResponses.unavailable)
  async recommendations(
    @Param('user_id', { schema: userIdParam }) userId: string,
    @Query('top_n', { schema: topNQuery }) topN: number,
    @Query('explanations', { schema: explanationsUrgencyQuery }) urgency: ExplanationUrgency,
  ): Promise<RecommendationsView> {
    return this.users.recommendations(customer(userId), topN, urgency);
  }

  @Get(':user_id/recommendations/explanations')
  @ApiOperation({
    summary: 'Explanation status and text of recommended products (what the page polls)',
    description:
      'Polling means a person is waiting: sentences still pending are written before any background ' +
      'work. A sentence not written a few seconds after it was first asked for is answered as `failed` ' +
      '(with the template sentence when the model was too slow, or without text when no writer answers).',
  })
  @ApiParam({ name: 'user_id', example: '17850' })
  @ApiQuery({ name: 'product_ids', description: 'comma-separated product ids', example: '22632,84029E' })
  @ApiOkResponse({ schema: schemas.explanations })
  @ApiResponse(errorResponses.badRequest)
  @ApiResponse(errorResponses.notFound)
  @ApiResponse(errorResponses.unavailable)
  explanationsFor(
    @Param('user_id', { schema: userIdParam }) userId: string,
    @Query('product_ids', { schema: productIdsQuery }) productIds: string[],
  ): Promise<ExplanationsView> {
    return this.users.explanationsFor(customer(userId), productIds);
  }
}

function customer(digits: string): number {
  const id = customerId(digits);
  if (id === undefined) throw new NotFoundException(`user ${digits} has no purchase history`);
  return id;
}
