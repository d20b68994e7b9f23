// Replays what Argo CD's real application controller wrote (test/fixtures/argocd, recorded by
// scripts/e2e/record-argocd-fixtures.ts) through the Sensor's Lua filter and evaluate(), with the
// runner's per-(hook, Application) memory kept the way src/runner/accept.ts keeps it.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import type { ArgoCDTrigger } from "../../src/trigger/argocd/index.js";
import type { Evaluation } from "../../src/trigger/kind.js";
import type { KubeObject, ResourceEvent } from "../../src/trigger/event.js";
import { evaluate, sensorFilterScript } from "../../src/trigger/index.js";
import { runLuaFilter } from "./lua-filter.js";

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/argocd");

export interface RecordedWrite {
  file: string;
  event: "ADDED" | "MODIFIED" | "DELETED";
  atMs: number;
  application: IApplication;
}

export interface Steps {
  scenario: string;
  argoCdVersion: string;
  revisions: Record<string, string>;
  steps: Array<{ atMs: number; action: string; revision?: string }>;
}

export function recorded(scenario: string): { writes: RecordedWrite[]; steps: Steps } {
  const dir = path.join(DIR, scenario);
  const files = readdirSync(dir)
    .filter((f) => /^\d{3}\.json$/.test(f))
    .sort();
  const writes = files.map((file) => ({
    file,
    ...(JSON.parse(readFileSync(path.join(dir, file), "utf8")) as Omit<RecordedWrite, "file">),
  }));
  const steps = JSON.parse(readFileSync(path.join(dir, "steps.json"), "utf8")) as Steps;
  return { writes, steps };
}

/** The event Argo Events' resource event source makes of one write (old: the write before). */
export function eventOf(write: RecordedWrite, before: RecordedWrite | undefined, id: string): ResourceEvent {
  const type = write.event === "ADDED" ? "ADD" : write.event === "DELETED" ? "DELETE" : "UPDATE";
  return {
    context: { id, source: "argocd", subject: "applications-argocd", type: "resource", time: "2026-11-25T00:00:00Z" },
    data: {
      type,
      body: write.application as unknown as KubeObject,
      ...(type === "UPDATE" && before ? { oldBody: before.application as unknown as KubeObject } : {}),
      group: "argoproj.io",
      version: "v1alpha1",
      resource: "applications",
    },
  } as ResourceEvent;
}

export interface Replayed {
  write: RecordedWrite;
  /** The Sensor's filter let the event through. */
  passed: boolean;
  evaluation?: Evaluation;
}

/**
 * Every write in order: the Lua filter decides whether the runner sees it; the runner evaluates
 * with its memory and remembers as accept.ts does (a fired run, or a Skipped run whose
 * fingerprint is new).
 */
export function replay(
  trigger: ArgoCDTrigger,
  writes: readonly RecordedWrite[],
): { all: Replayed[]; fired: Evaluation[] } {
  const lua = sensorFilterScript(trigger);
  let memory: string | undefined;
  const all: Replayed[] = [];
  const fired: Evaluation[] = [];
  const runs = new Set<string>();
  writes.forEach((write, i) => {
    const ev = eventOf(write, writes[i - 1], `evt-${write.file}`);
    const passed = runLuaFilter(lua, JSON.parse(JSON.stringify(ev.data))) === true;
    if (!passed) {
      all.push({ write, passed });
      return;
    }
    const evaluation = evaluate(trigger, ev, memory !== undefined ? { memory: { fingerprint: memory } } : {});
    all.push({ write, passed, evaluation });
    if (runs.has(evaluation.identity)) return; // the runner finds the existing run
    if (evaluation.decision.fires) {
      fired.push(evaluation);
      runs.add(evaluation.identity);
      if (evaluation.fingerprint) memory = evaluation.fingerprint;
    } else if (evaluation.remember === "set" && evaluation.fingerprint && evaluation.fingerprint !== memory) {
      runs.add(evaluation.identity);
      memory = evaluation.fingerprint;
    } else if (evaluation.remember === "forget") {
      memory = undefined;
    }
  });
  return { all, fired };
}

/** The synced revision of a fired evaluation's operation. */
export function firedRevision(e: Evaluation): string | undefined {
  return (e.scope.operation as { revision?: string } | null)?.revision;
}
