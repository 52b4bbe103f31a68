import { Controller, Inject } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import type { Database } from '@retail/common';
import { RecommendationPatterns } from '@retail/contracts';
import { DATABASE } from '@retail/common/nest';

export interface RecommendationHealth {
  postgres: boolean;
}

/** The health message pattern: the gateway's readiness asks whether this service reaches Postgres. */
@Controller()
export class HealthMessagesController {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  @MessagePattern(RecommendationPatterns.Health)
  async health(): Promise<RecommendationHealth> {
    try {
      await this.db.query('SELECT 1');
      return { postgres: true };
    } catch {
      return { postgres: false };
    }
  }
}
