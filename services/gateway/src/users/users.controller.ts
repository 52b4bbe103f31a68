import { applyDecorators, Controller, Get, NotFoundException, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  customerId,
  customerNumber,
  errorBody,
  explanationsQuery,
  explanationsResponse,
  listUsersQuery,
  purchasesResponse,
  recommendationsQuery,
  recommendationsResponse,
  usersPage,
  type ExplanationsResponse,
  type ListUsersQuery,
  type PurchasesResponse,
  type RecommendationsQuery,
  type RecommendationsResponse,
  type UsersPage,
} from '@retail/contracts';
import type { z } from 'zod';
import { UserRecommendationsService } from './user-recommendations.service.js';

/** The error answers, documented from the one error schema. */
const errors = {
  badRequest: { status: 400, description: 'a parameter is malformed', standardSchema: errorBody },
  notFound: {
    status: 404,
    description: 'no customer with purchase history has this number',
    standardSchema: errorBody,
  },
  unavailable: {
    status: 503,
    description: 'a service behind the gateway is down',
    standardSchema: errorBody,
  },
} as const;

/** What every `:user_id` endpoint documents: the parameter, its answer, and the errors it can give. */
function UserEndpoint(answer: z.ZodType): MethodDecorator {
  return applyDecorators(
    ApiParam({ name: 'user_id', example: '17850' }),
    ApiOkResponse({ standardSchema: answer }),
    ApiResponse(errors.badRequest),
    ApiResponse(errors.notFound),
    ApiResponse(errors.unavailable),
  );
}

/**
 * The storefront's API: thin. Every parameter is validated, typed and documented by its schema in
 * @retail/contracts (the same schemas document the answers); UserRecommendationsService composes them.
 */
@ApiTags('users')
@Controller('api/users')
export class UsersController {
  constructor(private readonly users: UserRecommendationsService) {}

  @Get()
  @ApiOperation({ summary: 'Users with purchase history, optionally filtered by customer-number prefix' })
  @ApiOkResponse({ standardSchema: usersPage })
  @ApiResponse(errors.badRequest)
  list(@Query({ schema: listUsersQuery }) query: ListUsersQuery): Promise<UsersPage> {
    return this.users.listUsers(query);
  }

  @Get(':user_id/purchases')
  @ApiOperation({ summary: 'What the user bought (merchandise), most recent first' })
  @UserEndpoint(purchasesResponse)
  purchases(
    @Param('user_id', { schema: customerNumber }) userId: z.output<typeof customerNumber>,
  ): Promise<PurchasesResponse> {
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
  @UserEndpoint(recommendationsResponse)
  recommendations(
    @Param('user_id', { schema: customerNumber }) userId: z.output<typeof customerNumber>,
    @Query({ schema: recommendationsQuery }) query: RecommendationsQuery,
  ): Promise<RecommendationsResponse> {
    return this.users.recommendations(customer(userId), query.top_n, query.explanations);
  }

  @Get(':user_id/recommendations/explanations')
  @ApiOperation({
    summary: 'Explanation status and text of recommended products (what the page polls)',
    description:
      'Polling means a person is waiting: sentences still pending are written before any background ' +
      'work. A sentence not written a few seconds after it was first asked for is answered as `failed` ' +
      '(with the template sentence when the model was too slow, or without text when no writer answers).',
  })
  @UserEndpoint(explanationsResponse)
  explanationsFor(
    @Param('user_id', { schema: customerNumber }) userId: z.output<typeof customerNumber>,
    @Query({ schema: explanationsQuery }) query: z.output<typeof explanationsQuery>,
  ): Promise<ExplanationsResponse> {
    return this.users.explanationsFor(customer(userId), query.product_ids);
  }
}

/** The customer number as a number; a number no customer can have is a 404, quoted as given. */
function customer(digits: string): number {
  const id = customerId(digits);
  if (id === undefined) throw new NotFoundException(`user ${digits} has no purchase history`);
  return id;
}
