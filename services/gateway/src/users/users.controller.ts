import {
  applyDecorators,
  Controller,
  Delete,
  Get,
  NotFoundException,
  Param,
  Query,
  Res,
} from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
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
  userErased,
  type ExplanationsResponse,
  type UserErased,
  type ListUsersQuery,
  type PurchasesResponse,
  type RecommendationsQuery,
  type RecommendationsResponse,
  type UsersPage,
} from '@retail/contracts';
import type { z } from 'zod';
import { WriteEndpoint } from '../access/access.js';
import { Revalidated, revalidationHeaders } from '../http/revalidation.js';
import { UserRecommendationsService } from './user-recommendations.service.js';

const NO_SUCH_CUSTOMER = 'no customer with purchase history has this number';

/** The error answers, documented from the one error schema. */
const errors = {
  badRequest: { status: 400, description: 'a parameter is malformed', standardSchema: errorBody },
  unavailable: {
    status: 503,
    description: 'a service behind the gateway is down',
    standardSchema: errorBody,
  },
} as const;

interface UserEndpointOptions {
  /** What the answer is, in a few words. */
  answers: string;
  /** When the answer is a 404 (default: an unknown customer). */
  notFound?: string;
  /** The answer carries an ETag and is revalidated (Revalidated()). */
  revalidated?: boolean;
}

/** What every `:user_id` endpoint documents: the parameter, its answer, and the errors it can give. */
function UserEndpoint(answer: z.ZodType, options: UserEndpointOptions): MethodDecorator {
  return applyDecorators(
    ApiParam({ name: 'user_id', example: '17850' }),
    ApiOkResponse({
      description: options.answers,
      standardSchema: answer,
      ...(options.revalidated ? { headers: revalidationHeaders } : {}),
    }),
    ApiResponse(errors.badRequest),
    ApiResponse({
      status: 404,
      description: options.notFound ?? NO_SUCH_CUSTOMER,
      standardSchema: errorBody,
    }),
    ApiResponse(errors.unavailable),
    ...(options.revalidated ? [Revalidated()] : []),
  );
}

/**
 * The storefront's API: thin. Every parameter is validated, typed and documented by its schema in
 * @retail/contracts (the same schemas document the answers); UserRecommendationsService composes them.
 * The reads are public unless API_KEYS_REQUIRED_FOR_READS (see AccessGuard); erasing needs a key.
 */
@ApiTags('users')
@Controller('api/users')
export class UsersController {
  constructor(private readonly users: UserRecommendationsService) {}

  @Get()
  @ApiOperation({
    operationId: 'listUsers',
    summary: 'Users with purchase history, optionally filtered by customer-number prefix',
    description:
      'In customer-number order, `limit` at a time: the next page starts at `next_offset` (also given as ' +
      'the `Link` header\'s `rel="next"`); both are absent on the last page.',
  })
  @ApiOkResponse({
    description: 'one page of users',
    standardSchema: usersPage,
    headers: {
      Link: {
        description:
          'the next page, `</api/users?...&offset=N>; rel="next"` (RFC 8288); absent on the last page',
        schema: { type: 'string' },
      },
    },
  })
  @ApiResponse(errors.badRequest)
  @ApiResponse(errors.unavailable)
  async list(
    @Query({ schema: listUsersQuery }) query: ListUsersQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<UsersPage> {
    const page = await this.users.listUsers(query);
    if (page.next_offset !== null) {
      const next = new URLSearchParams({ limit: String(query.limit), offset: String(page.next_offset) });
      if (query.query) next.set('query', query.query);
      void reply.header('link', `</api/users?${next.toString()}>; rel="next"`);
    }
    return page;
  }

  @Get(':user_id/purchases')
  @ApiOperation({
    operationId: 'getPurchases',
    summary: 'What the user bought (merchandise), most recent first',
  })
  @UserEndpoint(purchasesResponse, { answers: 'the purchases', revalidated: true })
  purchases(
    @Param('user_id', { schema: customerNumber }) userId: z.output<typeof customerNumber>,
  ): Promise<PurchasesResponse> {
    return this.users.purchases(customer(userId));
  }

  @Get(':user_id/recommendations')
  @ApiOperation({
    operationId: 'getRecommendations',
    summary: 'Products for the user, best first, with their explanations when ready',
    description:
      'Exact ranking of every product in the served model (RECOMMENDER_MODEL): `description`, cosine against ' +
      'the mean description vector of what the user bought; `copurchase` and `hybrid`, inner product with a ' +
      'vector learned from what customers bought together (`basis` says which, `fallback` when the ' +
      'description model stood in); products the user bought are left out. `explanation` is null while ' +
      '`explanation_status` is `pending`: poll `/recommendations/explanations`. With `explanations=now` a ' +
      'person is waiting for the sentences: they are written before any background work (the template ' +
      'sentence, marked `failed`, stands in when the model takes longer than a few seconds). By default they ' +
      'are background work, written within the background budget or when someone polls them. The answer ' +
      'carries an ETag: revalidate with If-None-Match (304 while the list and its sentences are unchanged).',
  })
  @UserEndpoint(recommendationsResponse, { answers: 'the ranked products', revalidated: true })
  recommendations(
    @Param('user_id', { schema: customerNumber }) userId: z.output<typeof customerNumber>,
    @Query({ schema: recommendationsQuery }) query: RecommendationsQuery,
  ): Promise<RecommendationsResponse> {
    return this.users.recommendations(customer(userId), query.top_n, query.explanations);
  }

  @Get(':user_id/recommendations/explanations')
  @ApiOperation({
    operationId: 'getExplanations',
    summary: 'Explanation status and text of recommended products (what the page polls)',
    description:
      'Polling means a person is waiting: sentences still pending are written before any background ' +
      'work. A sentence not written a few seconds after it was first asked for is answered as `failed` ' +
      '(with the template sentence when the model was too slow, or without text when no writer answers).',
  })
  @UserEndpoint(explanationsResponse, {
    answers: 'the explanations, in the order of `product_ids`',
    notFound: `${NO_SUCH_CUSTOMER}, or a product id is not in the catalog`,
  })
  explanationsFor(
    @Param('user_id', { schema: customerNumber }) userId: z.output<typeof customerNumber>,
    @Query({ schema: explanationsQuery }) query: z.output<typeof explanationsQuery>,
  ): Promise<ExplanationsResponse> {
    return this.users.explanationsFor(customer(userId), query.product_ids);
  }

  @Delete(':user_id')
  @WriteEndpoint()
  @ApiOperation({
    operationId: 'eraseUser',
    summary: 'Erase a customer at their request: purchases, lists and cached sentences',
    description:
      "Their purchase lines (the ingested file's and the posted ones), their user-item rows, their kept lists " +
      'and their cached explanations are removed, and a new ingestion of the file does not bring them back; ' +
      'the models forget them at their next training. Repeating the request is harmless.',
  })
  @UserEndpoint(userErased, {
    answers: 'the customer is erased',
    notFound: 'no customer ever had this number',
  })
  erase(
    @Param('user_id', { schema: customerNumber }) userId: z.output<typeof customerNumber>,
  ): Promise<UserErased> {
    return this.users.erase(customer(userId));
  }
}

/** The customer number as a number; a number no customer can have is a 404, quoted as given. */
function customer(digits: string): number {
  const id = customerId(digits);
  if (id === undefined) throw new NotFoundException(`user ${digits} has no purchase history`);
  return id;
}
