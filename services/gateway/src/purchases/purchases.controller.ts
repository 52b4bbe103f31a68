import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  MAX_PURCHASE_LINES,
  errorBody,
  purchasesAccepted,
  purchasesRequest,
  type PurchasesAccepted,
  type PurchasesRequest,
} from '@retail/contracts';
import { WriteEndpoint } from '../access/access.js';
import { RecommendationClient } from '../recommendation-client/recommendation.client.js';

/** The write API for purchases: thin; the recommendation service cleans, records and queues what follows. */
@ApiTags('purchases')
@Controller('api/purchases')
export class PurchasesController {
  constructor(private readonly recommendation: RecommendationClient) {}

  @Post()
  @HttpCode(202)
  @WriteEndpoint()
  @ApiOperation({
    operationId: 'postPurchases',
    summary: 'Record purchase lines (whole invoices), up to ' + MAX_PURCHASE_LINES + ' a request',
    description:
      "The lines take the data file's columns in snake_case and go through the same data rules as an ingestion: " +
      'returns, cancellations and lines without a customer are dropped (listed in `dropped` with the rule), postage ' +
      'and fees are kept as purchases but never recommended. Idempotent by invoice: the lines of an invoice ' +
      'already recorded (posted before, or in the ingested file) are `duplicates` and change nothing, also when ' +
      "the same batch is posted twice at the same moment. A 202 means the lines are committed; the customer's " +
      'recommendations follow within about a second (a new customer appears in /api/users), new products get ' +
      'their vectors, and the models learned from purchases retrain in the background. A line that cannot be ' +
      'read (a date that is not a date, ...) refuses the whole batch with a 400: nothing is recorded.',
  })
  @ApiResponse({ status: 202, description: 'the lines are recorded', standardSchema: purchasesAccepted })
  @ApiResponse({
    status: 400,
    description: 'a line cannot be read, an invoice names several customers, or the batch is too large',
    standardSchema: errorBody,
  })
  @ApiResponse({
    status: 503,
    description: 'a service behind the gateway is down',
    standardSchema: errorBody,
  })
  record(@Body({ schema: purchasesRequest }) request: PurchasesRequest): Promise<PurchasesAccepted> {
    return this.recommendation.recordPurchases(request.lines);
  }
}
