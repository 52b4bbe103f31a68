import { Inject, Injectable } from '@nestjs/common';
import type { Database } from '@retail/common';
import { DATABASE } from '@retail/common/nest';

/** Every SQL statement about the catalog's products that the gateway asks about. */
@Injectable()
export class ProductsRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** Which of `productIds` the catalog holds (in no particular order). */
  async known(productIds: string[]): Promise<Set<string>> {
    const { rows } = await this.db.query<{ product_id: string }>({
      name: 'products.known',
      text: 'SELECT product_id FROM products WHERE product_id = ANY($1)',
      values: [productIds],
    });
    return new Set(rows.map((row) => row.product_id));
  }
}
