// Types of cells.mjs for the TypeScript tests that import it.
export declare const CELLS: string[];
export declare const QUICK_CELLS: Set<string>;
export declare const RESULT_PREFIX: string;
