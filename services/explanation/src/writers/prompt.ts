import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { ExplanationContext } from './explanation-writer.js';

/** How many of the user's purchases the prompt lists (a handful, the most relevant first). */
export const PROMPT_PURCHASES = 5;

/** The prompt of the mission: the user's closest purchases, the product, one short sentence, no jargon. */
export function explanationPrompt(context: ExplanationContext): ChatCompletionMessageParam[] {
  const purchases = context.purchases.slice(0, PROMPT_PURCHASES).map((description) => `- ${description}`);
  return [
    {
      role: 'system',
      content: 'You write short, friendly product recommendations for the customers of an online gift shop.',
    },
    {
      role: 'user',
      content: [
        'The customer previously bought:',
        ...(purchases.length > 0 ? purchases : ['- (nothing described)']),
        ...(context.ground === 'bought-together'
          ? ['Customers who bought these items often bought the recommended product too.']
          : []),
        '',
        `Recommended product: ${context.productDescription}`,
        '',
        'Explain in one short sentence in English why it makes sense to recommend this product to this customer.',
        'Do not mention technical terms like "algorithm" or "model". Answer with the sentence only: no lists, ' +
          'no markdown, no quotes.',
      ].join('\n'),
    },
  ];
}
