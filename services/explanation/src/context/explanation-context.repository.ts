import { Inject, Injectable } from '@nestjs/common';
import type { Database, DescribedProduct } from '@retail/common';
import { DATABASE } from '@retail/common/nest';

/** How many of the user's purchases a context holds: the most bought, plenty to find the few closest. */
export const CONTEXT_PURCHASES = 100;

export interface ExplanationContextRows {
  /** The products to explain that exist, with their current descriptions. */
  products: DescribedProduct[];
  /** The merchandise the user bought, most often bought first (at most CONTEXT_PURCHASES). */
  purchases: DescribedProduct[];
}

/** Every SQL statement of the explanation service: what a sentence is written from. */
@Injectable()
export class ExplanationContextRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** The products' descriptions and the user's purchases, in one statement. */
  async load(userId: number, productIds: string[]): Promise<ExplanationContextRows> {
    const { rows } = await this.db.query<DescribedProduct & { purchase: boolean }>({
      name: 'explanations.context',
      text: `SELECT false AS purchase, product_id, description
               FROM products WHERE product_id = ANY($2::text[])
             UNION ALL
             (SELECT true, p.product_id, p.description
                FROM user_items ui JOIN products p ON p.product_id = ui.product_id AND p.is_merchandise
               WHERE ui.customer_id = $1
               ORDER BY ui.times_bought DESC, ui.last_purchased_at DESC, ui.product_id
               LIMIT ${CONTEXT_PURCHASES})`,
      values: [userId, productIds],
    });
    const context: ExplanationContextRows = { products: [], purchases: [] };
    for (const { purchase, product_id, description } of rows) {
      (purchase ? context.purchases : context.products).push({ product_id, description });
    }
    return context;
  }
}
