import { isMerchandise } from './merchandise.js';
import type { CleanLine } from './row-cleaner.js';

export interface CatalogProduct {
  productId: string;
  /** The canonical description: see chooseCanonical. Empty when the file never described the product. */
  description: string;
  isMerchandise: boolean;
  /** How many distinct (non-empty) descriptions the file used for this product. */
  descriptionVariants: number;
  /** The latest unit price: that of the line with the latest invoice date (ties: the line added last). */
  unitPrice: string;
}

/** What the catalog reads of a kept line. */
export type CatalogLine = Pick<
  CleanLine,
  'rawCode' | 'productId' | 'description' | 'invoiceDate' | 'unitPrice'
>;

interface Variant {
  description: string;
  lines: number;
  lastSeen: string;
}

interface ProductState {
  /** StockCode spellings seen for this product (before normalisation). */
  spellings: string[];
  variants: Map<string, Variant>;
  /** The variant of the previous line: consecutive lines mostly repeat it, so it is checked first. */
  last: Variant | undefined;
  /** The invoice date of the latest price seen, and that price. */
  pricedAt: string;
  unitPrice: string;
}

/**
 * Collects every (product, description) pair of the kept lines and decides one description per
 * product. Rule: the description used on the most lines wins (it is what shoppers saw most often;
 * one-off typos and old names lose), ties go to the most recently used one, then to alphabetical order
 * so that the result never depends on row order. Also learns each product's latest price: the price of
 * the line with the latest invoice date, and on the same date the line added last (the later line of
 * the file; lines posted through the API are added after the file's).
 */
export class ProductCatalogBuilder {
  private readonly products = new Map<string, ProductState>();

  add(line: CatalogLine): void {
    const { rawCode, productId, description, invoiceDate } = line;
    let product = this.products.get(productId);
    if (!product) {
      product = {
        spellings: [rawCode],
        variants: new Map(),
        last: undefined,
        pricedAt: invoiceDate,
        unitPrice: line.unitPrice,
      };
      this.products.set(productId, product);
    } else {
      if (product.spellings[0] !== rawCode && !product.spellings.includes(rawCode)) {
        product.spellings.push(rawCode);
      }
      if (invoiceDate >= product.pricedAt) {
        product.pricedAt = invoiceDate;
        product.unitPrice = line.unitPrice;
      }
    }
    if (description === '') return;
    let variant =
      product.last?.description === description ? product.last : product.variants.get(description);
    if (variant) {
      variant.lines++;
      if (invoiceDate > variant.lastSeen) variant.lastSeen = invoiceDate;
    } else {
      variant = { description, lines: 1, lastSeen: invoiceDate };
      product.variants.set(description, variant);
    }
    product.last = variant;
  }

  /** Distinct StockCodes as written in the file (before normalisation). */
  get rawCodeCount(): number {
    let count = 0;
    for (const product of this.products.values()) count += product.spellings.length;
    return count;
  }

  build(): CatalogProduct[] {
    const result: CatalogProduct[] = [];
    for (const [productId, product] of this.products) {
      const description = chooseCanonical(product.variants.values());
      result.push({
        productId,
        description,
        isMerchandise: isMerchandise(productId, description),
        descriptionVariants: product.variants.size,
        unitPrice: product.unitPrice,
      });
    }
    return result.sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
  }
}

function chooseCanonical(variants: Iterable<Variant>): string {
  let best: Variant | undefined;
  for (const v of variants) {
    if (
      !best ||
      v.lines > best.lines ||
      (v.lines === best.lines &&
        (v.lastSeen > best.lastSeen || (v.lastSeen === best.lastSeen && v.description < best.description)))
    ) {
      best = v;
    }
  }
  return best ? best.description : '';
}
