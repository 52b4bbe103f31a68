import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  RecommendationPatterns,
  type EraseUserRequest,
  type PurchasesAccepted,
  type RecordPurchasesRequest,
  type UserErased,
} from '@retail/contracts';
import { notFound } from '../errors.js';
import { PurchasesService } from './purchases.service.js';

/** The write path's message patterns: purchases.record (a batch of lines) and users.erase. */
@Controller()
export class PurchaseMessagesController {
  constructor(private readonly purchases: PurchasesService) {}

  @MessagePattern(RecommendationPatterns.RecordPurchases)
  record(@Payload() request: RecordPurchasesRequest): Promise<PurchasesAccepted> {
    return this.purchases.record(request.lines);
  }

  @MessagePattern(RecommendationPatterns.EraseUser)
  async erase(@Payload() request: EraseUserRequest): Promise<UserErased> {
    if (!(await this.purchases.erase(request.userId))) {
      throw notFound(`user ${request.userId} is not known`);
    }
    return { user_id: String(request.userId), erased: true };
  }
}
