const dateFormat = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  timeZone: 'UTC',
});

/** `2010-12-02T15:27:00` (shop-local, no zone) -> `2 Dec 2010`, the same on the server and in the browser. */
export function formatDay(localDateTime: string): string {
  const date = new Date(`${localDateTime.slice(0, 19)}Z`);
  return Number.isNaN(date.getTime()) ? localDateTime : dateFormat.format(date);
}

const countFormat = new Intl.NumberFormat('en-GB');

export function formatCount(value: number): string {
  return countFormat.format(value);
}

export function plural(count: number, one: string, many: string): string {
  return `${formatCount(count)} ${count === 1 ? one : many}`;
}

const priceFormat = new Intl.NumberFormat('en-GB', { style: 'currency', currency: 'GBP' });

/** A price in pounds, `2.55` -> `£2.55`; null (the data has no price for the product) -> null. */
export function formatPrice(pounds: number | null): string | null {
  return pounds === null ? null : priceFormat.format(pounds);
}
