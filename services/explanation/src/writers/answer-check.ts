import type { ExplanationContext } from './explanation-writer.js';

/**
 * Words that say nothing about a product: they do not make a sentence about this product or these
 * purchases (every shop sentence has them).
 */
const EMPTY_WORDS = new Set(
  (
    'the and with your you yours for this that these those them they their its are was were will would ' +
    'can could should have has had been being from into onto over under than then there here what which ' +
    'who whom why how when where all any each every some more most much many very just also too only ' +
    'set sets pack packs piece pieces item items product products thing things one ones our ours out ' +
    'love loved loves lovely like likes liked enjoy enjoyed perfect great nice good well goes going pair pairs ' +
    'paired match matches matching fits fit suits suit complement complements complete completes ' +
    'bought buy buying purchase purchased purchases previous previously already before recommend ' +
    'recommended recommendation since make makes made add adds addition collection style styles choice ' +
    'pick picked picks home gift gifts customer customers shop store'
  ).split(' '),
);

/** Text that talks to or about the machine, or carries instructions, instead of explaining a product. */
const META =
  /\b(ignore|disregard|instructions?|prompts?|system message|jailbreak|language model|as an ai|ai model|assistant|chatbot|openai|i (?:cannot|can't|won't|am unable|am not able)|i'm (?:sorry|unable)|sorry|as requested|here is|here's (?:a|the|your) sentence)\b/i;

function contentWords(text: string): string[] {
  return (text.toLowerCase().match(/\p{L}+/gu) ?? []).filter(
    (word) => word.length >= 3 && !EMPTY_WORDS.has(word),
  );
}

/** A crude stem, enough to match `lanterns` with `LANTERN` and `decorations` with `DECORATION`. */
const stem = (word: string) => (word.length > 5 ? word.slice(0, 5) : word.replace(/s$/, ''));

/**
 * Why a cleaned model answer is not an explanation of this product for this customer, or undefined when
 * it is one: it must not carry instructions or talk about itself (product descriptions are data from a
 * file, and a model can be steered), and it must name something of the recommended product or of the
 * purchases it was shown.
 */
export function answerProblem(sentence: string, context: ExplanationContext): string | undefined {
  const meta = META.exec(sentence);
  if (meta) return `it reads as instructions or talk about itself ("${meta[0]}")`;
  const known = new Set([context.productDescription, ...context.purchases].flatMap(contentWords).map(stem));
  if (!contentWords(sentence).some((word) => known.has(stem(word)))) {
    return 'it names nothing of the product or of the purchases';
  }
  return undefined;
}
