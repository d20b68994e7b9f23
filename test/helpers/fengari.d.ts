declare module "fengari" {
  export const lua: Record<string, (...args: never[]) => unknown> & Record<string, number>;
  export const lauxlib: Record<string, (...args: never[]) => unknown>;
  export const lualib: Record<string, (...args: never[]) => unknown>;
  export function to_luastring(s: string): Uint8Array;
}
