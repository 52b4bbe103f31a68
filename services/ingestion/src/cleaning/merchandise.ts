/**
 * Non-merchandise lines: postage, carriage, manual adjustments, bank charges, marketplace fees,
 * commissions, discounts, samples, bad-debt adjustments and gift vouchers. They are purchases on an
 * invoice, not products a shopper would want recommended.
 */

/** Service codes of the UCI file (see README, "Data quirks"). */
const NON_MERCHANDISE_CODES = new Set([
  'POST', // POSTAGE
  'DOT', // DOTCOM POSTAGE
  'C2', // CARRIAGE
  'M', // Manual (manual price adjustment)
  'BANK CHARGES',
  'AMAZONFEE',
  'CRUK', // CRUK Commission
  'D', // Discount
  'S', // SAMPLES
  'B', // Adjust bad debt
  'PADS', // PADS TO MATCH ALL CUSHIONS: a 0.001 GBP filler line, not a product sold on its own
]);

/** Gift vouchers (gift_0001_10 ... gift_0001_50). */
const NON_MERCHANDISE_CODE_PATTERN = /^GIFT_\d+_\d+$/;

/** Service lines that hide behind ordinary numeric codes, e.g. 23444 "Next Day Carriage". */
const NON_MERCHANDISE_DESCRIPTION =
  /^(?:(?:next day |dotcom )?(?:carriage|postage)|manual|bank charges|amazon fee|discount|samples?|adjust bad debt|cruk commission)$|gift voucher/i;

/** `code` is a normalised StockCode; `description` the canonical description. */
export function isMerchandise(code: string, description: string): boolean {
  if (NON_MERCHANDISE_CODES.has(code) || NON_MERCHANDISE_CODE_PATTERN.test(code)) return false;
  return !NON_MERCHANDISE_DESCRIPTION.test(description);
}
