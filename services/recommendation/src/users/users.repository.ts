import { Inject, Injectable } from '@nestjs/common';
import type { Database } from '@retail/common';
import type { Purchase, UserSummary } from '@retail/contracts';
import { DATABASE } from '@retail/common/nest';

/** Every SQL statement about customers and their purchases. */
@Injectable()
export class UsersRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async count(prefix: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>({
      name: 'users.count',
      text: `SELECT count(*) AS n FROM customers WHERE $1 = '' OR customer_id::text LIKE $1 || '%'`,
      values: [prefix],
    });
    return rows[0]!.n;
  }

  async list(prefix: string, limit: number, offset: number): Promise<UserSummary[]> {
    const { rows } = await this.db.query<UserSummary>({
      name: 'users.list',
      text: `SELECT customer_id::text AS user_id, products_bought, country
         FROM customers
        WHERE $1 = '' OR customer_id::text LIKE $1 || '%'
        ORDER BY customer_id
        LIMIT $2 OFFSET $3`,
      values: [prefix, limit, offset],
    });
    return rows;
  }

  async exists(customerId: number): Promise<boolean> {
    const { rows } = await this.db.query({
      name: 'users.exists',
      text: 'SELECT 1 FROM customers WHERE customer_id = $1',
      values: [customerId],
    });
    return rows.length > 0;
  }

  /** The merchandise the customer bought, most recent first (service lines such as postage left out). */
  async purchases(customerId: number): Promise<Purchase[]> {
    const { rows } = await this.db.query<Purchase>({
      name: 'users.purchases',
      text: `SELECT ui.product_id, p.description, ui.times_bought, p.unit_price::float8 AS unit_price,
              replace(ui.last_purchased_at::text, ' ', 'T') AS last_purchased_at
         FROM user_items ui JOIN products p USING (product_id)
        WHERE ui.customer_id = $1 AND p.is_merchandise
        ORDER BY ui.last_purchased_at DESC, ui.times_bought DESC, ui.product_id`,
      values: [customerId],
    });
    return rows;
  }
}
