// The shape of a JSON Schema fragment as the program builds them: hooks.yaml's schema is composed
// from each trigger kind's and step type's own parts, and the CRDs from the same pieces.
export type JsonSchema = { [keyword: string]: unknown };
