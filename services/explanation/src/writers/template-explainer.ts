import type { ExplanationContext, ExplanationWriter, WrittenExplanation } from './explanation-writer.js';

/** "WHITE HANGING HEART T-LIGHT HOLDER" -> "White Hanging Heart T-Light Holder". */
export function displayName(description: string): string {
  return description
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/(^|[\s\-/(])([a-z])/g, (_, before: string, letter: string) => before + letter.toUpperCase());
}

/**
 * The offline explainer: a grounded sentence that names the user's purchases that explain the product
 * ("Pairs well with …" when they resemble it, "Often bought with …" when they were bought together with
 * it). Deterministic, instant, and never says more than the data shows.
 */
export function templateSentence({ purchases, ground }: ExplanationContext): string {
  const names = [...new Set(purchases.map(displayName).filter((name) => name.length > 0))].slice(0, 2);
  if (names.length === 0) return 'Picked to match the style of your previous purchases.';
  const lead = ground === 'bought-together' ? 'Often bought with' : 'Pairs well with';
  if (names.length === 1) return `${lead} the ${names[0]} you bought.`;
  return `${lead} the ${names[0]} and the ${names[1]} you bought.`;
}

export class TemplateExplainer implements ExplanationWriter {
  readonly name = 'template';
  readonly callsModel = false;

  write(context: ExplanationContext): Promise<WrittenExplanation> {
    return Promise.resolve({ text: templateSentence(context), source: 'template' });
  }
}
