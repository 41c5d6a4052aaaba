// The two node:fs calls the registry test makes. The page is built without Node's types
// (@types/node is not a dependency), so the unit tests declare what they use.
declare module 'node:fs' {
  export function existsSync(path: URL | string): boolean;
  export function readFileSync(path: URL | string): Uint8Array;
}
