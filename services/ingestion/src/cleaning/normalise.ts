/**
 * Field normalisation. Each function returns the normalised value, or null when the field cannot be
 * read (the row is then malformed).
 */

/** StockCodes are case-insensitive in practice (`85123a` is `85123A`): trimmed and upper-cased. */
export function normaliseStockCode(raw: string): string {
  return raw.trim().toUpperCase();
}

/** Descriptions: surrounding spaces dropped and runs of whitespace collapsed to one space. */
export function normaliseDescription(raw: string): string {
  return /^\S(?:\S| \S)*$/.test(raw) ? raw : raw.replace(/\s+/g, ' ').trim();
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)$/;

export function parseQuantity(raw: string): number | null {
  const text = raw.trim();
  if (!INTEGER.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) && Math.abs(value) <= 2_147_483_647 ? value : null;
}

/** Prices stay text (exact decimals) once checked; null when not a decimal number. */
export function parsePrice(raw: string): string | null {
  const text = raw.trim();
  if (!DECIMAL.test(text)) return null;
  const value = Number(text);
  return Math.abs(value) < 1e9 ? text : null;
}

/** CustomerID: empty (no customer), or an integer, also written `17850.0` by some exports. */
export function parseCustomerId(raw: string): number | null | 'invalid' {
  const text = raw.trim();
  if (text === '') return null;
  const match = /^(\d{1,9})(\.0*)?$/.exec(text);
  return match ? Number(match[1]) : 'invalid';
}

const ISO = /^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z)?$/;
const US = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?$/;

/**
 * InvoiceDate as `YYYY-MM-DD HH:MM:SS` (shop-local time, as the file has it). Accepts the ISO form of
 * this copy and the `12/1/2010 8:26` (month/day/year) form of the UCI and Kaggle CSV exports.
 */
export function parseInvoiceDate(raw: string): string | null {
  // Lines of one invoice share their date: remember the last answer.
  if (raw === lastDate.raw) return lastDate.parsed;
  const parsed = parseDate(raw.trim());
  lastDate.raw = raw;
  lastDate.parsed = parsed;
  return parsed;
}

const lastDate: { raw: string | undefined; parsed: string | null } = { raw: undefined, parsed: null };

function parseDate(text: string): string | null {
  let parts: (string | undefined)[] | null = null;
  const iso = ISO.exec(text);
  if (iso) parts = [iso[1], iso[2], iso[3], iso[4], iso[5], iso[6]];
  const us = iso ? null : US.exec(text);
  if (us) parts = [us[3], us[1], us[2], us[4], us[5], us[6]];
  if (!parts) return null;
  const [y, mo, d, h, mi, s] = parts.map((p) => Number(p ?? '0')) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (d > daysInMonth) return null;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${y}-${pad(mo)}-${pad(d)} ${pad(h)}:${pad(mi)}:${pad(s)}`;
}
