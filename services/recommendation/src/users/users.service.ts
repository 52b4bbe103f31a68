import { Injectable } from '@nestjs/common';
import type {
  ListUsersRequest,
  ListUsersResponse,
  PurchasesResponse,
  UserExistsResponse,
} from '@retail/contracts';
import { notFound } from '../errors.js';
import { UsersRepository } from './users.repository.js';

@Injectable()
export class UsersService {
  constructor(private readonly repository: UsersRepository) {}

  async list({ query, limit, offset }: ListUsersRequest): Promise<ListUsersResponse> {
    const [total, users] = await Promise.all([
      this.repository.count(query),
      this.repository.list(query, limit, offset),
    ]);
    return { total, users };
  }

  async exists(userId: number): Promise<UserExistsResponse> {
    return { exists: await this.repository.exists(userId) };
  }

  async purchases(userId: number): Promise<PurchasesResponse> {
    const [exists, purchases] = await Promise.all([
      this.repository.exists(userId),
      this.repository.purchases(userId),
    ]);
    if (!exists) throw notFound(`user ${userId} has no purchase history`);
    return { user_id: String(userId), purchases };
  }
}
