import { z } from 'zod';
import { MAX_CUSTOMER_ID } from '../rules.js';

/** Lines one `POST /api/purchases` may carry. */
export const MAX_PURCHASE_LINES = 1_000;

/**
 * A purchase line: the data file's columns in snake_case. Types are checked here; the shop's data rules (the
 * same as the ingestion's: returns, cancellations, lines without a customer are dropped; dates and codes
 * normalised) are applied by the service, which answers which lines it dropped and why.
 */
export const purchaseLine = z
  .object({
    invoice_no: z
      .string()
      .trim()
      .min(1, 'invoice_no must not be empty')
      .max(32, 'invoice_no has at most 32 characters')
      .meta({
        description: 'the invoice (an invoice number starting with C is a cancellation)',
        example: '581588',
      }),
    stock_code: z.string().max(32, 'stock_code has at most 32 characters').meta({
      description: 'the product (StockCode; case and surrounding spaces do not matter)',
      example: '85123A',
    }),
    description: z
      .string()
      .max(500, 'description has at most 500 characters')
      .meta({ example: 'WHITE HANGING HEART T-LIGHT HOLDER' }),
    quantity: z
      .number({ error: 'quantity must be an integer' })
      .int('quantity must be an integer')
      .min(-2_147_483_648)
      .max(2_147_483_647)
      .meta({ description: 'units (a line with 0 or fewer is a return, dropped)', example: 6 }),
    invoice_date: z.string().max(40, 'invoice_date has at most 40 characters').meta({
      description:
        'shop-local time, `YYYY-MM-DD HH:MM:SS` (or with `T`; or `M/D/YYYY H:MM` as some exports write it)',
      example: '2011-12-09 12:50:00',
    }),
    unit_price: z
      .number({ error: 'unit_price must be a number' })
      .min(-1e9)
      .max(1e9)
      .meta({ description: 'GBP', example: 2.55 }),
    customer_id: z
      .number({ error: 'customer_id must be a customer number or null' })
      .int('customer_id must be a customer number')
      .min(1, 'customer_id must be a customer number')
      .max(MAX_CUSTOMER_ID, 'customer_id must be a customer number')
      .nullable()
      .meta({ description: 'the customer (null: no customer, the line is dropped)', example: 17850 }),
    country: z.string().max(100, 'country has at most 100 characters').meta({ example: 'United Kingdom' }),
  })
  .strict();

export type PurchaseLine = z.infer<typeof purchaseLine>;

/** `POST /api/purchases` */
export const purchasesRequest = z
  .object({
    lines: z
      .array(purchaseLine)
      .min(1, 'lines must hold at least one line')
      .max(
        MAX_PURCHASE_LINES,
        `lines holds at most ${MAX_PURCHASE_LINES} lines: post larger batches in parts`,
      ),
  })
  .strict()
  .meta({ id: 'PurchasesRequest' });

export type PurchasesRequest = z.infer<typeof purchasesRequest>;

/** The answer (202): the lines are committed; what follows (the customers' lists, new products' vectors) runs after. */
export const purchasesAccepted = z
  .object({
    accepted: z.number().int().min(0).meta({ description: 'lines recorded now' }),
    duplicates: z.number().int().min(0).meta({
      description:
        'lines of invoices already recorded (posted before, or in the ingested file): they change nothing',
    }),
    dropped: z
      .array(
        z.object({
          index: z.number().int().min(0).meta({ description: "the line's position in `lines`" }),
          reason: z.string().meta({
            description:
              'the data rule that drops it: `missing_customer_id`, `missing_stock_code`, `cancellation`, ' +
              '`non_positive_quantity`',
            example: 'cancellation',
          }),
        }),
      )
      .meta({ description: 'lines the data rules drop (the others are recorded)' }),
  })
  .meta({ id: 'PurchasesAccepted' });

export type PurchasesAccepted = z.infer<typeof purchasesAccepted>;
