/**
 * The identity rules, each defined once: plain functions and constants without dependencies, so that the
 * page can use them (`@retail/contracts/rules`) without shipping the schemas; ids.ts builds the schemas on them.
 */

/** Largest customer number Postgres stores (integer): larger numbers cannot be a customer. */
export const MAX_CUSTOMER_ID = 2_147_483_647;
/** Digits accepted in a customer number before it is "too long" (40: far beyond any real one). */
export const MAX_CUSTOMER_DIGITS = 40;

/** Whether `text` is written like a customer number (digits only, not absurdly long). */
export function isCustomerNumber(text: string): boolean {
  return /^\d+$/.test(text) && text.length <= MAX_CUSTOMER_DIGITS;
}

/** The customer number as a number, or undefined when no customer can have it (0, or beyond Postgres' integer). */
export function customerId(digits: string): number | undefined {
  const id = Number(digits);
  return Number.isInteger(id) && id > 0 && id <= MAX_CUSTOMER_ID ? id : undefined;
}

/** A product id (StockCode) as stored: upper case letters, digits, `_`, `-` and spaces, 1-32 characters. */
export const PRODUCT_ID = /^[A-Z0-9_ -]{1,32}$/;

/** How many recommendations an answer may hold, and how many by default. */
export const MAX_TOP_N = 100;
export const DEFAULT_TOP_N = 12;
