import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  RecommendationPatterns,
  type ListUsersRequest,
  type ListUsersResponse,
  type PurchasesResponse,
  type UserExistsResponse,
  type UserRequest,
} from '@retail/contracts';
import { UsersService } from './users.service.js';

/** The users' message patterns (users.list, users.purchases, users.exists): the gateway's calls, answered. */
@Controller()
export class UserMessagesController {
  constructor(private readonly users: UsersService) {}

  @MessagePattern(RecommendationPatterns.ListUsers)
  list(@Payload() request: ListUsersRequest): Promise<ListUsersResponse> {
    return this.users.list(request);
  }

  @MessagePattern(RecommendationPatterns.UserExists)
  exists(@Payload() request: UserRequest): Promise<UserExistsResponse> {
    return this.users.exists(request.userId);
  }

  @MessagePattern(RecommendationPatterns.UserPurchases)
  purchases(@Payload() request: UserRequest): Promise<PurchasesResponse> {
    return this.users.purchases(request.userId);
  }
}
