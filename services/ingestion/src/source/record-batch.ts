/** A record the parser could not read cleanly (an unclosed quote, ...): skipped as malformed. */
export interface RecordProblem {
  reason: string;
  /** How many lines of the file the record took (more than 1 when a quote swallowed the next lines). */
  lines: number;
}

/** Records in file order, with the line of the file each starts on. */
export interface RecordBatch {
  records: string[][];
  /** `lines[i]` is the line (1-based) of the file where `records[i]` starts. */
  lines: number[];
  /** Records of this batch the parser flagged, by index in `records`. */
  problems?: Map<number, RecordProblem>;
}
