/**
 * Text from a data file, made safe to print in a message or a report: control characters (ESC, NUL, ...),
 * invisible format characters, lone surrogates and the replacement character U+FFFD (what undecodable
 * bytes become) are written as escapes (`\x1b`, `\u{fffd}`), and long text is cut. A damaged or binary
 * file can then never move the cursor, recolour the terminal or fill the screen with raw bytes.
 */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}\uFFFD]/gu;

export function printable(text: string, maxLength = 60): string {
  const cut = text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
  return cut.replace(UNPRINTABLE, (char) => {
    const code = char.codePointAt(0)!;
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/**
 * Whether text looks like the bytes of a binary file rather than text: a control character other than the
 * whitespace ones (NUL, ESC, ...), or U+FFFD (bytes that are not UTF-8).
 */
export function looksBinary(text: string): boolean {
  return /[^\P{Cc}\t\n\v\f\r]|\uFFFD/u.test(text);
}

/** An error message on one line, whatever the library that wrote it put in it. */
export function oneLine(message: string, maxLength = 300): string {
  return printable(message.replace(/\s*[\r\n]+\s*/g, '; ').trim(), maxLength);
}
