import { describe, expect, it } from '@jest/globals';
import { cleanPostedLine, summariseCustomer, type PostedLine } from '@retail/ingestion/cleaning';
import { REQUIRED_COLUMNS, resolveColumns } from '../src/cleaning/columns.js';
import { isMerchandise } from '../src/cleaning/merchandise.js';
import {
  normaliseDescription,
  normaliseStockCode,
  parseCustomerId,
  parseInvoiceDate,
  parsePrice,
  parseQuantity,
} from '../src/cleaning/normalise.js';
import { ProductCatalogBuilder } from '../src/cleaning/product-catalog.js';
import { PurchaseAggregator } from '../src/cleaning/purchase-aggregator.js';
import { cleanRecord } from '../src/cleaning/row-cleaner.js';
import { IngestionInputError } from '../src/errors.js';

const HEADER = [...REQUIRED_COLUMNS];
const columns = resolveColumns(HEADER);
const row = (overrides: Partial<Record<(typeof HEADER)[number], string>> = {}) => {
  const base: Record<string, string> = {
    InvoiceNo: '536365',
    StockCode: '85123A',
    Description: 'WHITE HANGING HEART T-LIGHT HOLDER',
    Quantity: '6',
    InvoiceDate: '2010-12-01 08:26:00',
    UnitPrice: '2.55',
    CustomerID: '17850',
    Country: 'United Kingdom',
    ...overrides,
  };
  return HEADER.map((name) => base[name]!);
};

describe('field normalisation', () => {
  it('treats StockCodes case-insensitively and trims them', () => {
    expect(normaliseStockCode(' 85123a ')).toBe('85123A');
    expect(normaliseStockCode('gift_0001_10')).toBe('GIFT_0001_10');
  });

  it('collapses whitespace in descriptions', () => {
    expect(normaliseDescription(' SET 2 TEA TOWELS I LOVE LONDON ')).toBe('SET 2 TEA TOWELS I LOVE LONDON');
    expect(normaliseDescription('COFFEE MUG PEARS  DESIGN')).toBe('COFFEE MUG PEARS DESIGN');
    expect(normaliseDescription('A\tB')).toBe('A B');
    expect(normaliseDescription('PLAIN')).toBe('PLAIN');
  });

  it('reads both date styles of the published copies and rejects impossible dates', () => {
    expect(parseInvoiceDate('2010-12-01 08:26:00')).toBe('2010-12-01 08:26:00');
    expect(parseInvoiceDate('12/1/2010 8:26')).toBe('2010-12-01 08:26:00');
    expect(parseInvoiceDate('2011-02-29 10:00:00')).toBeNull();
    expect(parseInvoiceDate('2010-13-01 10:00:00')).toBeNull();
    expect(parseInvoiceDate('yesterday')).toBeNull();
    expect(parseInvoiceDate('')).toBeNull();
  });

  it('reads quantities, prices and customer ids strictly', () => {
    expect(parseQuantity('-12')).toBe(-12);
    expect(parseQuantity('1.5')).toBeNull();
    expect(parseQuantity('six')).toBeNull();
    expect(parsePrice('2.55')).toBe('2.55');
    expect(parsePrice('25')).toBe('25');
    expect(parsePrice('£2')).toBeNull();
    expect(parseCustomerId('')).toBeNull();
    expect(parseCustomerId('17850.0')).toBe(17850);
    expect(parseCustomerId('ABC')).toBe('invalid');
  });
});

describe('cleaning rules', () => {
  it('keeps a purchase line and normalises it', () => {
    const outcome = cleanRecord(
      row({ StockCode: '85123a', Description: 'WHITE  HANGING HEART ' }),
      2,
      columns,
      8,
    );
    expect(outcome).toEqual({
      kind: 'kept',
      line: expect.objectContaining({
        productId: '85123A',
        rawCode: '85123a',
        description: 'WHITE HANGING HEART',
      }),
    });
  });

  it.each([
    ['missing_customer_id', { CustomerID: '' }],
    ['missing_stock_code', { StockCode: '  ' }],
    ['cancellation', { InvoiceNo: 'C536379', Quantity: '-1' }],
    ['non_positive_quantity', { Quantity: '0' }],
    ['non_positive_quantity', { Quantity: '-3' }],
  ])('drops a row under %s', (rule, overrides) => {
    expect(cleanRecord(row(overrides), 2, columns, 8)).toEqual({ kind: 'dropped', rule });
  });

  it('counts a row under the first rule it fails', () => {
    expect(cleanRecord(row({ CustomerID: '', InvoiceNo: 'C1', Quantity: '-1' }), 2, columns, 8)).toEqual({
      kind: 'dropped',
      rule: 'missing_customer_id',
    });
  });

  it.each([
    [{ Quantity: 'six' }, 'Quantity is not an integer'],
    [{ InvoiceDate: '2010-12-45 10:00' }, 'InvoiceDate is not a date'],
    [{ UnitPrice: 'free' }, 'UnitPrice is not a number'],
    [{ CustomerID: 'X17850' }, 'CustomerID is not a customer number'],
  ])('reports an unreadable field as malformed (%j)', (overrides, reason) => {
    const outcome = cleanRecord(row(overrides), 7, columns, 8);
    expect(outcome.kind).toBe('malformed');
    expect(outcome.kind === 'malformed' && outcome.reason).toContain(reason);
  });

  it('reports a wrong field count as malformed', () => {
    expect(cleanRecord(row().slice(0, 7), 3, columns, 8)).toEqual({
      kind: 'malformed',
      reason: 'expected 8 fields, found 7',
    });
  });
});

describe('header', () => {
  it('names every missing column', () => {
    expect(() =>
      resolveColumns(['InvoiceNo', 'StockCode', 'Description', 'Qty', 'InvoiceDate', 'Country']),
    ).toThrow(
      new IngestionInputError(
        'the header lacks required columns Quantity, UnitPrice, CustomerID ' +
          '(found: InvoiceNo, StockCode, Description, Qty, InvoiceDate, Country)',
      ),
    );
  });

  it('accepts the spellings of the Online Retail II release and a byte-order mark', () => {
    const index = resolveColumns([
      '\uFEFFInvoice',
      'StockCode',
      'Description',
      'Quantity',
      'InvoiceDate',
      'Price',
      'Customer ID',
      'Country',
    ]);
    expect(index).toEqual({
      InvoiceNo: 0,
      StockCode: 1,
      Description: 2,
      Quantity: 3,
      InvoiceDate: 4,
      UnitPrice: 5,
      CustomerID: 6,
      Country: 7,
    });
  });
});

describe('merchandise', () => {
  it.each([
    ['POST', 'POSTAGE'],
    ['DOT', 'DOTCOM POSTAGE'],
    ['C2', 'CARRIAGE'],
    ['M', 'Manual'],
    ['BANK CHARGES', 'Bank Charges'],
    ['AMAZONFEE', 'AMAZON FEE'],
    ['D', 'Discount'],
    ['S', 'SAMPLES'],
    ['B', 'Adjust bad debt'],
    ['CRUK', 'CRUK Commission'],
    ['GIFT_0001_10', 'Dotcomgiftshop Gift Voucher £10.00'],
    ['23444', 'Next Day Carriage'],
    ['PADS', 'PADS TO MATCH ALL CUSHIONS'],
  ])('keeps %s (%s) out of recommendations', (code, description) => {
    expect(isMerchandise(code, description)).toBe(false);
  });

  it.each([
    ['85123A', 'WHITE HANGING HEART T-LIGHT HOLDER'],
    ['23099', 'FRENCH CARRIAGE LANTERN'],
    ['DCGSSBOY', 'BOYS PARTY BAG'],
    ['22970', 'LONDON BUS COFFEE MUG'],
  ])('keeps %s (%s) as merchandise', (code, description) => {
    expect(isMerchandise(code, description)).toBe(true);
  });
});

describe('the catalog', () => {
  const line = (
    rawCode: string,
    productId: string,
    description: string,
    invoiceDate: string,
    unitPrice = '1',
  ) => ({
    rawCode,
    productId,
    description,
    invoiceDate,
    unitPrice,
  });

  it('prefers the description used on most lines, then the most recent, then alphabetical order', () => {
    const catalog = new ProductCatalogBuilder();
    catalog.add(line('85123A', '85123A', 'WHITE HANGING HEART T-LIGHT HOLDER', '2010-12-01 08:26:00'));
    catalog.add(line('85123A', '85123A', 'WHITE HANGING HEART T-LIGHT HOLDER', '2010-12-02 08:26:00'));
    catalog.add(line('85123a', '85123A', 'CREAM HANGING HEART T-LIGHT HOLDER', '2011-12-01 08:26:00'));
    catalog.add(line('71053', '71053', 'WHITE METAL LANTERN', '2010-12-01 08:26:00'));
    catalog.add(line('71053', '71053', 'WHITE MOROCCAN METAL LANTERN', '2011-01-01 08:26:00'));
    catalog.add(line('22000', '22000', 'B NAME', '2011-01-01 08:26:00'));
    catalog.add(line('22000', '22000', 'A NAME', '2011-01-01 08:26:00'));
    catalog.add(line('POST', 'POST', '', '2011-01-01 08:26:00'));
    expect(catalog.build()).toEqual([
      {
        productId: '22000',
        description: 'A NAME',
        isMerchandise: true,
        descriptionVariants: 2,
        unitPrice: '1',
      },
      {
        productId: '71053',
        description: 'WHITE MOROCCAN METAL LANTERN',
        isMerchandise: true,
        descriptionVariants: 2,
        unitPrice: '1',
      },
      {
        productId: '85123A',
        description: 'WHITE HANGING HEART T-LIGHT HOLDER',
        isMerchandise: true,
        descriptionVariants: 2,
        unitPrice: '1',
      },
      { productId: 'POST', description: '', isMerchandise: false, descriptionVariants: 0, unitPrice: '1' },
    ]);
    expect(catalog.rawCodeCount).toBe(5);
  });

  it('learns the latest price: the latest invoice date, and on one date the line added last', () => {
    const catalog = new ProductCatalogBuilder();
    catalog.add(line('A1', 'A1', 'LANTERN', '2011-03-01 10:00:00', '3.00'));
    catalog.add(line('A1', 'A1', 'LANTERN', '2011-05-01 10:00:00', '4.00'));
    catalog.add(line('A1', 'A1', 'LANTERN', '2011-04-01 10:00:00', '5.00')); // earlier date: not the latest
    catalog.add(line('B2', 'B2', 'MUG', '2011-05-01 10:00:00', '1.00'));
    catalog.add(line('B2', 'B2', 'MUG', '2011-05-01 10:00:00', '1.25')); // same date, later line
    expect(catalog.build().map((p) => [p.productId, p.unitPrice])).toEqual([
      ['A1', '4.00'],
      ['B2', '1.25'],
    ]);
  });
});

describe('a line posted through the API', () => {
  const posted = (overrides: Partial<PostedLine> = {}): PostedLine => ({
    invoice_no: '536365',
    stock_code: '85123A',
    description: 'WHITE HANGING HEART T-LIGHT HOLDER',
    quantity: 6,
    invoice_date: '2010-12-01 08:26:00',
    unit_price: 2.55,
    customer_id: 17850,
    country: 'United Kingdom',
    ...overrides,
  });

  it('is cleaned exactly as the same row of the file', () => {
    const cases: [Partial<PostedLine>, Partial<Record<(typeof HEADER)[number], string>>][] = [
      [{}, {}],
      [
        { stock_code: ' 85123a ', description: ' WHITE  HANGING HEART ', country: '' },
        { StockCode: ' 85123a ', Description: ' WHITE  HANGING HEART ', Country: '' },
      ],
      [{ invoice_date: '2011-01-11T10:00:00Z' }, { InvoiceDate: '2011-01-11T10:00:00Z' }],
      [{ invoice_date: '12/1/2010 8:26' }, { InvoiceDate: '12/1/2010 8:26' }],
      [{ customer_id: null }, { CustomerID: '' }],
      [
        { invoice_no: 'C536379', quantity: -1 },
        { InvoiceNo: 'C536379', Quantity: '-1' },
      ],
      [{ quantity: 0 }, { Quantity: '0' }],
      [{ stock_code: '  ' }, { StockCode: '  ' }],
      [{ quantity: 1.5 }, { Quantity: '1.5' }],
      [{ unit_price: 1e21 }, { UnitPrice: '1e+21' }],
      [{ invoice_date: '2011-02-29 10:00:00' }, { InvoiceDate: '2011-02-29 10:00:00' }],
      [{ customer_id: -5 }, { CustomerID: '-5' }],
      [{ invoice_no: ' ' }, { InvoiceNo: ' ' }],
    ];
    for (const [line, fields] of cases) {
      expect(cleanPostedLine(posted(line), 4)).toEqual(cleanRecord(row(fields), 4, columns, 8));
    }
  });

  it('keeps a purchase, normalised, with its index as its line number', () => {
    expect(cleanPostedLine(posted({ stock_code: '85123a', country: ' ' }), 3)).toEqual({
      kind: 'kept',
      line: {
        lineNo: 3,
        invoiceNo: '536365',
        rawCode: '85123a',
        productId: '85123A',
        description: 'WHITE HANGING HEART T-LIGHT HOLDER',
        quantity: 6,
        invoiceDate: '2010-12-01 08:26:00',
        unitPrice: '2.55',
        customerId: 17850,
        country: 'Unspecified',
      },
    });
  });

  it.each([
    ['missing_customer_id', { customer_id: null }],
    ['missing_stock_code', { stock_code: ' ' }],
    ['cancellation', { invoice_no: 'c1' }],
    ['non_positive_quantity', { quantity: -2 }],
    ['erased_customer', { customer_id: 13047 }],
  ] as const)('drops a line under %s', (rule, overrides) => {
    expect(cleanPostedLine(posted(overrides), 0, new Set([13047]))).toEqual({ kind: 'dropped', rule });
  });

  it.each([
    [{ quantity: 2.5 }, 'Quantity is not an integer: "2.5"'],
    [{ quantity: 3e9 }, 'Quantity is not an integer: "3000000000"'],
    [{ unit_price: 1e21 }, 'UnitPrice is not a number: "1e+21"'],
    [{ invoice_date: 'tomorrow' }, 'InvoiceDate is not a date: "tomorrow"'],
    [{ customer_id: 12.5 }, 'CustomerID is not a customer number: "12.5"'],
    [{ invoice_no: '' }, 'InvoiceNo is empty'],
  ])('reports an unreadable field (%j)', (overrides, reason) => {
    expect(cleanPostedLine(posted(overrides), 0)).toEqual({ kind: 'malformed', reason });
  });
});

describe("a customer's summary", () => {
  const line = (productId: string, invoiceNo: string, invoiceDate: string, quantity = 1) => ({
    lineNo: 0,
    invoiceNo,
    rawCode: productId,
    productId,
    description: '',
    quantity,
    invoiceDate,
    unitPrice: '1',
    customerId: 17850,
    country: 'United Kingdom',
  });

  it('is what the ingestion computes, from the user-item rows in any order', () => {
    const purchases = new PurchaseAggregator();
    purchases.add(line('85123A', '1', '2011-01-02 10:00:00', 6));
    purchases.add(line('POST', '1', '2011-01-02 10:00:00'));
    purchases.add(line('22632', '2', '2010-12-01 09:00:00', 2));
    purchases.add(line('85123A', '3', '2011-03-01 10:00:00', 2));
    purchases.add(line('10002', '3', '2011-03-01 10:00:00', 12));
    const isMerchandise = (productId: string) => productId !== 'POST';
    const [customer] = purchases.customers(isMerchandise);
    const { customerId: _id, country: _country, items, ...summary } = customer!;
    expect(summary).toEqual({
      productsBought: 3,
      firstPurchaseAt: '2010-12-01 09:00:00',
      lastPurchaseAt: '2011-03-01 10:00:00',
      purchasesHash: expect.stringMatching(/^[0-9a-f]{32}$/),
      itemsHash: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(summariseCustomer([...items].reverse(), isMerchandise)).toEqual(summary);
    expect(summariseCustomer(items, isMerchandise)).toEqual(summary);
    // The digests change with what they digest.
    const more = items.map((item) => (item.productId === '22632' ? { ...item, timesBought: 2 } : item));
    expect(summariseCustomer(more, isMerchandise).itemsHash).not.toBe(summary.itemsHash);
    expect(summariseCustomer(more, isMerchandise).purchasesHash).toBe(summary.purchasesHash);
    expect(summariseCustomer(items, () => true).purchasesHash).not.toBe(summary.purchasesHash);
  });

  it('needs at least one row', () => {
    expect(() => summariseCustomer([], () => true)).toThrow(RangeError);
  });
});
