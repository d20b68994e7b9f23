// `explain`'s text: the explanation as a person reads it (`-o text`).
import type { Explanation } from "./index.js";

function objectLines(e: Explanation): string[] {
  if (!e.object) return [`object: ${e.objectError ?? "not read"}`];
  const o = e.object;
  const lines = [
    `object ${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name} ` +
      `(uid ${o.uid ?? "?"}, resourceVersion ${o.resourceVersion ?? "?"})`,
  ];
  if (e.selector.length === 0) lines.push("selector: every object of the watched resource");
  else {
    lines.push("selector:");
    for (const p of e.selector)
      lines.push(`  ${p.matches ? "matches " : "MISMATCH"}  ${p.part}: wants ${p.wants}, object has ${p.actual}`);
  }
  return lines;
}

function memoryLines(e: Explanation): string[] {
  if (e.runsError) return [`HookRuns: ${e.runsError}`];
  const last = e.lastHandled;
  const source = last?.phase ? `run ${last.run}, ${last.phase}` : `memory ${last?.run ?? ""}`;
  return [
    `first served: ${e.firstServedAt ?? "no marker (the runner has not served this hook yet)"}`,
    last
      ? `last handled: fingerprint ${last.fingerprint} (${source}, accepted ${last.acceptedAt})`
      : "last handled: nothing (no memory entry and no HookRun of this hook for this object)",
    ...(e.memoryError ? [`memory: ${e.memoryError}`] : []),
  ];
}

function runLines(e: Explanation): string[] {
  if (e.runs.length === 0) return [];
  const lines = [`recent HookRuns in ${e.runnerNamespace} (newest first):`];
  for (const r of e.runs) {
    const why = [r.reason, r.message].filter(Boolean).join(": ");
    lines.push(`  ${r.name}  ${r.phase}  ${r.acceptedAt}${why ? `  ${why}` : ""}`);
    for (const s of r.failedSteps) lines.push(`    step ${s.name} failed: ${s.error}`);
  }
  return lines;
}

/** The explanation as people read it. */
export function formatExplanation(e: Explanation): string {
  const lines = [`hook ${e.hook}: ${e.watches}`, ...objectLines(e), ...memoryLines(e)];
  if (e.fingerprint) lines.push(`fingerprint now: ${e.fingerprint}`);
  lines.push(...runLines(e));
  if (e.decision) {
    const code = e.decision.code ? ` [${e.decision.code}]` : "";
    lines.push(
      `decision for ${e.decision.basis}:`,
      `  ${e.decision.fires ? "FIRES" : "skips"}  ${e.decision.reason}${code}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
