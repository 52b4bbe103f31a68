import { describe, expect, it } from '@jest/globals';
import {
  evaluate,
  EvaluationInputError,
  temporalSplit,
  type EvalData,
  type EvalLine,
} from '../src/eval/evaluation.js';

const at = (date: string) => new Date(`${date}T10:00:00`);

/**
 * Customers of two tastes over a year: group A buys A-products, group B buys B-products, a few at a time,
 * month after month; everyone's later purchases come from their own group.
 */
function data(): EvalData {
  const lines: EvalLine[] = [];
  const months = [
    '2011-01-10',
    '2011-03-10',
    '2011-05-10',
    '2011-07-10',
    '2011-08-20',
    '2011-09-10',
    '2011-10-10',
    '2011-11-10',
    '2011-12-05',
  ];
  for (let c = 0; c < 40; c++) {
    const group = c % 2 === 0 ? 'A' : 'B';
    months.forEach((month, m) => {
      for (let k = 0; k < 2; k++) {
        const product = `${group}${(c + m * 3 + k) % 30}`;
        lines.push({ customerId: 1000 + c, productId: product, at: at(month) });
      }
    });
  }
  const ids = [...new Set(lines.map((l) => l.productId))];
  const vectors = new Map(
    ids.map((id) => {
      const v = new Float32Array(4);
      v[id.startsWith('A') ? 0 : 1] = 1;
      v[2] = Number(id.slice(1)) / 100;
      const norm = Math.hypot(...v);
      return [id, v.map((x) => x / norm)];
    }),
  );
  return {
    lines,
    descriptions: new Map(ids.map((id) => [id, `PRODUCT ${id}`])),
    vectors,
    retired: new Set(),
    descriptionModel: 'test-model',
  };
}

describe('the offline evaluation', () => {
  it('splits in time: the matrix holds only lines before the cut; targets are products new to the customer', () => {
    const d = data();
    const cut = at('2011-10-01');
    const split = temporalSplit(d, cut, at('2011-12-31'), 14);
    for (const items of split.matrix.userItems) expect(items.length).toBeGreaterThan(0);
    // Nothing from after the cut: each customer's training products are exactly those of their lines before it.
    split.matrix.customerIds.forEach((customer, row) => {
      const before = new Set(
        d.lines.filter((l) => l.customerId === customer && l.at < cut).map((l) => l.productId),
      );
      expect(new Set([...split.matrix.userItems[row]!].map((i) => split.matrix.productIds[i]))).toEqual(
        before,
      );
      const target = split.targets.get(customer);
      if (!target) return;
      for (const product of target) expect(before.has(product)).toBe(false);
      // what they bought before is never recommended
      for (const i of split.matrix.userItems[row]!) expect(split.excluded.get(customer)!.has(i)).toBe(true);
    });
    expect(split.users.length).toBeGreaterThan(0);
  });

  it('measures every model plus best-sellers, deterministically, and beats best-sellers on co-purchase structure', () => {
    const options = { cut: at('2011-10-01'), k: 3, lambdas: [1, 10] };
    const report = evaluate(data(), options);
    expect(report.models.map((m) => m.model)).toEqual([
      'best-sellers',
      'description (test-model)',
      'copurchase',
      'hybrid',
    ]);
    for (const m of report.models) {
      for (const x of [m.hr, m.ndcg, m.recall, m.coverage]) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(1);
      }
    }
    const byName = new Map(report.models.map((m) => [m.model, m]));
    expect(byName.get('copurchase')!.ndcg).toBeGreaterThan(byName.get('best-sellers')!.ndcg);
    expect(evaluate(data(), options).models).toEqual(report.models);
  });

  it('refuses a cut outside the data, or one that leaves no validation history', () => {
    expect(() => evaluate(data(), { cut: at('2012-06-01'), k: 12 })).toThrow(EvaluationInputError);
    expect(() => evaluate(data(), { cut: at('2011-01-20'), k: 12 })).toThrow(/validation/);
  });
});
