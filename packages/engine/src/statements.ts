import { loadStatements } from './sql-files.js';

/** The hot statements from sql/, read once when an engine opens. */
export class Statements {
  readonly #byName: ReadonlyMap<string, string>;

  constructor() {
    this.#byName = loadStatements();
  }

  get(name: string): string {
    const sql = this.#byName.get(name);
    if (sql === undefined) throw new Error(`the engine has no statement sql/${name}.sql`);
    return sql;
  }
}
