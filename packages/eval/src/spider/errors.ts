/**
 * The error the Spider evaluator throws for bad input (unknown database, mismatched counts,
 * gold SQL it cannot parse, a missing database file) and for SQL the parser rejects. `where`
 * names the function or the example that failed.
 */
export class SpiderError extends Error {
  /** Where it failed, e.g. `parseSpiderSql` or `evaluateSpider: gold[12]`. */
  readonly where: string;

  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = 'SpiderError';
    this.where = where;
  }
}
