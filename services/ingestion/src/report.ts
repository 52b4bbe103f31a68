import { printable, type EnqueueResult } from '@retail/common';
import type { IngestionReport } from './ingestion.service.js';

const n = (value: number) => value.toLocaleString('en-GB');
const RULE_LABELS: Record<string, string> = {
  missing_customer_id: 'no CustomerID',
  missing_stock_code: 'no StockCode',
  cancellation: 'cancellation (InvoiceNo C...)',
  non_positive_quantity: 'Quantity <= 0',
  erased_customer: 'erased customer',
};

/** The final report of `npm run ingest`, as plain text. */
export function formatReport(report: IngestionReport, embeddings?: EnqueueResult | string): string {
  const lines = [
    `Ingested ${report.source} (${report.format}) in ${(report.elapsedMs / 1000).toFixed(2)} s ` +
      `(${n(Math.round(report.rowsRead / (report.elapsedMs / 1000)))} rows/s; read+COPY ${report.phasesMs.load} ms, ` +
      `derive ${report.phasesMs.derive} ms, merge ${report.phasesMs.merge} ms)`,
    `  rows read          ${n(report.rowsRead)}`,
    `  rows kept          ${n(report.rowsKept)}`,
    `  rows dropped       ${n(Object.values(report.rowsDropped).reduce((a, b) => a + b, 0))}`,
    ...Object.entries(report.rowsDropped).map(
      ([rule, count]) => `    ${(RULE_LABELS[rule] ?? rule).padEnd(32)}${n(count)}`,
    ),
    `  malformed, skipped ${n(report.rowsMalformed)}` +
      (report.linesMalformed > report.rowsMalformed
        ? ` (${n(report.linesMalformed)} lines of the file)`
        : ''),
    ...report.malformedExamples.map((row) => `    line ${row.line}: ${row.reason}`),
    ...(report.rowsMalformed > report.malformedExamples.length
      ? [`    ... and ${n(report.rowsMalformed - report.malformedExamples.length)} more`]
      : []),
    `  posted via the API ${n(report.posted.linesKept)} lines (${n(report.posted.invoicesKept)} invoices) kept with ` +
      `the file's; ${n(report.posted.invoicesInFile)} posted invoices now in the file, counted once ` +
      `(${n(report.posted.linesInFile)} posted lines removed)`,
    `  customers          ${n(report.totals.customers)}`,
    `  products bought    ${n(report.products.rawStockCodes)} StockCodes as written -> ${n(report.products.normalised)} ` +
      `after code normalisation -> ${n(report.products.merchandise)} merchandise`,
    `    kept out of recommendations: ${report.products.nonMerchandise.map((p) => `${printable(p.productId)} (${printable(p.description)})`).join(', ') || 'none'}`,
    `    products with several descriptions (one canonical kept): ${n(report.products.withSeveralDescriptions)}`,
    `  user-item pairs    ${n(report.totals.userItems)}`,
    `  written            ${n(report.written.products)} products and ${n(report.written.customers)} customers new ` +
      `or changed; ${n(report.written.userItemRows)} user-item rows for ${n(report.written.customersWithNewItems)} ` +
      `customers whose purchases changed; removed ${n(report.written.removed.products)} products, ` +
      `${n(report.written.removed.customers)} customers`,
  ];
  if (typeof embeddings === 'string') lines.push(`  embeddings         not queued: ${embeddings}`);
  else if (embeddings) {
    lines.push(
      `  embeddings         ${n(embeddings.products)} products without a ${embeddings.model} vector -> ` +
        `${n(embeddings.jobs)} jobs queued`,
    );
  }
  return lines.join('\n');
}
