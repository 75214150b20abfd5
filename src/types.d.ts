// marked-terminal ships no types; we only use its extension factory.
declare module 'marked-terminal' {
  export function markedTerminal(options?: Record<string, unknown>): unknown;
}
