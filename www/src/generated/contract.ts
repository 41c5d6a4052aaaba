// The page's types against real Rust values: each sample in rust-samples.ts (written by
// tests/types.rs) is assigned to the type the page reads it as. A field renamed or dropped on
// either side, or a tag or error kind the page does not know, fails `tsc --noEmit` (npm run
// build, which scripts/build-web.sh runs).
import type { AfterStep, AttentionMaps, ErrorKind, EvalReport, Matrix, MethodInfo, Neighbour, PseudoLabel, RunConfig, SessionInfo, StepReportJson } from '../protocol';
import * as rust from './rust-samples';

/** The samples are `as const` (so tags keep their literal types); drop only the `readonly`. */
type Mutable<T> = T extends readonly (infer U)[] ? Mutable<U>[] : T extends object ? { -readonly [K in keyof T]: Mutable<T[K]> } : T;
const loose = <T>(value: T) => value as Mutable<T>;

export const contract: [RunConfig, MethodInfo, SessionInfo, StepReportJson, EvalReport, AfterStep, Neighbour, Matrix, PseudoLabel, AttentionMaps, readonly ErrorKind[]] = [
  loose(rust.runConfig),
  loose(rust.methodInfo),
  loose(rust.sessionInfo),
  loose(rust.stepReport),
  loose(rust.evalReport),
  loose(rust.afterStep),
  loose(rust.neighbour),
  loose(rust.matrix),
  loose(rust.pseudoLabel),
  loose(rust.attentionMaps),
  rust.errorKinds,
];
