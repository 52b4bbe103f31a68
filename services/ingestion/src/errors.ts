/** Bad input that stops a run before anything is written: the message says what to fix. */
export class IngestionInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IngestionInputError';
  }
}
