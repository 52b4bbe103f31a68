const wordCount = (text: string) => text.split(' ').filter((word) => /\p{L}/u.test(word)).length;

/** The longest sentence shown on a card. */
export const MAX_SENTENCE_LENGTH = 220;

/** Words an explanation must not use (the prompt asks the model not to). */
const TECHNICAL =
  /\b(algorithms?|models?|embeddings?|vectors?|cosine|similarity scores?|machine learning|AI)\b/i;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/**
 * Turns a model's answer into one plain sentence for a tooltip: HTML, scripts, markdown, links and
 * line breaks removed; the first sentence kept; the length capped. Undefined when nothing usable is
 * left (empty, too short, or technical words), so that the caller falls back to the template.
 */
export function cleanSentence(raw: string | null | undefined): string | undefined {
  if (!raw) return undefined;
  let text = raw
    .replace(/&(#\d+|#x[0-9a-f]+|[a-z]+);/gi, (_entity: string, name: string) => {
      if (name.startsWith('#x') || name.startsWith('#X'))
        return String.fromCodePoint(parseInt(name.slice(2), 16));
      if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
      return ENTITIES[name.toLowerCase()] ?? ' ';
    })
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ') // script and style blocks, with their content
    .replace(/<[^>]*>/g, ' ') // any other tag
    .replace(/```[\s\S]*?```/g, ' ') // code blocks
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // markdown links and images: keep the words
    .replace(/\b(?:https?:\/\/|www\.)\S+/gi, ' ') // bare links
    .replace(/^\s{0,3}(?:#{1,6}|>|[-*+]|\d+[.)])\s+/gm, '') // headings, quotes, list markers
    .replace(/[*_`~]+/g, '') // emphasis and code marks
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\u0000-\u001f\u007f]+/g, ' ') // line breaks and control characters
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^["'“”‘’]+|["'“”‘’]+$/g, '')
    .trim();

  // The first real sentence (a one- or two-word heading such as "Why?" is skipped).
  const sentences = text.split(/(?<=[.!?])\s+/);
  const first = sentences.map((sentence) => sentence.trim()).find((sentence) => wordCount(sentence) >= 3);
  if (!first) return undefined;
  text = first;
  if (text.length > MAX_SENTENCE_LENGTH) {
    const cut = text.slice(0, MAX_SENTENCE_LENGTH - 1);
    text = `${cut.slice(0, Math.max(cut.lastIndexOf(' '), 1)).replace(/[\s,;:]+$/, '')}…`;
  } else if (!/[.!?…]$/.test(text)) {
    text = `${text}.`;
  }
  if (TECHNICAL.test(text)) return undefined;
  return text.charAt(0).toUpperCase() + text.slice(1);
}
