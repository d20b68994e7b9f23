// `add`'s edit of hooks.yaml: the new hook goes in as text after the last hook, so every other byte
// of the file stays as the user wrote it (comments, anchors, quoting, folded scalars, JSON).
// Re-printing the whole document (Document.toString) would re-fold block scalars and re-space
// flow collections. The edit is then read back: unless the file says what it said before plus
// the new hook, nothing is written.
import { Document, isMap, isScalar, isSeq, type Node, type YAMLSeq } from "yaml";
import { isBlank, parseYamlDocuments, toData, YamlLimitError } from "../hookset/input.js";
import { CliError } from "./exit.js";

type Hook = Record<string, unknown>;

function parseOne(text: string): Document.Parsed {
  let docs: Document.Parsed[];
  try {
    docs = parseYamlDocuments(text).filter((d) => d.errors.length > 0 || !isBlank(d.contents));
  } catch (e) {
    if (e instanceof YamlLimitError) throw new CliError(`cannot add to this file: ${e.message}`);
    throw e;
  }
  if (docs.length !== 1)
    throw new CliError(`cannot add: the file holds ${docs.length} YAML documents, a HookSet is one`);
  const doc = docs[0]!;
  if (doc.errors.length > 0)
    throw new CliError(`cannot add to a file that is not valid YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
  return doc;
}

/** The names of the hooks in the file, to name a new one uniquely. */
export function hookNames(text: string): Set<string> {
  const hooks = (dataOf(parseOne(text)) as { spec?: { hooks?: unknown } } | null)?.spec?.hooks;
  return new Set(Array.isArray(hooks) ? hooks.map((h) => String((h as { name?: unknown } | null)?.name)) : []);
}

function dataOf(doc: Document): unknown {
  try {
    return toData(doc);
  } catch (e) {
    if (e instanceof YamlLimitError) throw new CliError(`cannot add to this file: ${e.message}`);
    throw e;
  }
}

const lineStart = (text: string, pos: number) => text.lastIndexOf("\n", pos - 1) + 1;
/** The file's line break: what the new lines end with. */
const lineBreak = (text: string) => (text.includes("\r\n") ? "\r\n" : "\n");

/** A JSON file stays JSON; a YAML flow list gets a YAML flow map. */
function flowItem(text: string, hook: Hook, indent: string | undefined): string {
  let json = false;
  try {
    JSON.parse(text);
    json = true;
  } catch {
    // YAML
  }
  if (!json)
    return new Document(hook)
      .toString({ collectionStyle: "flow", lineWidth: 0, flowCollectionPadding: false })
      .trimEnd();
  if (indent === undefined) return JSON.stringify(hook);
  return JSON.stringify(hook, null, 2).replace(/\n/g, `${lineBreak(text)}${indent}`);
}

/**
 * After the last item of a flow list (`hooks: [ … ]`, JSON); on a line of its own when the list
 * has one item per line.
 */
function appendToFlow(text: string, hooks: YAMLSeq, hook: Hook): string {
  const [open] = hooks.range!;
  const items = hooks.items as Node[];
  const last = items.at(-1);
  if (!last?.range) return `${text.slice(0, open + 1)}${flowItem(text, hook, undefined)}${text.slice(open + 1)}`;
  const multiline = text.slice(open, items[0]!.range![0]).includes("\n");
  const indent = " ".repeat(last.range[0] - lineStart(text, last.range[0]));
  // Separated from the last item as the last item is from the one before it (", ", ",\n    ", ",").
  const between = items.length > 1 ? text.slice(items.at(-2)!.range![1], last.range[0]) : "";
  let separator = multiline ? `,${lineBreak(text)}${indent}` : ", ";
  if (/^\s*,\s*$/.test(between)) separator = between;
  const end = last.range[1];
  return `${text.slice(0, end)}${separator}${flowItem(text, hook, multiline ? indent : undefined)}${text.slice(end)}`;
}

/** After the line on which the last item of a block list ends, indented like the list. */
function appendToBlock(text: string, hooks: YAMLSeq, hook: Hook): string {
  const last = hooks.items.at(-1) as Node & { spaceBefore?: boolean; commentBefore?: string | null };
  const indent = " ".repeat(hooks.range![0] - lineStart(text, hooks.range![0]));
  // A block scalar's range already ends past its newline.
  const valueEnd = last.range![1];
  const nl = text[valueEnd - 1] === "\n" ? valueEnd - 1 : text.indexOf("\n", valueEnd);
  const at = nl === -1 ? text.length : nl + 1;
  const item = new Document([hook]).toString({ lineWidth: 0, flowCollectionPadding: false });
  // Hooks separated by blank lines or comments get a blank line before the new one too.
  const separated =
    Boolean(hooks.commentBefore) ||
    hooks.items.some((h) => (h as typeof last).spaceBefore || (h as typeof last).commentBefore);
  const lines = item
    .trimEnd()
    .split("\n")
    .map((line) => (line === "" ? line : indent + line));
  const eol = lineBreak(text);
  const block = `${separated ? eol : ""}${lines.join(eol)}${eol}`;
  const before = text.slice(0, at);
  return `${before}${before.endsWith("\n") || before === "" ? "" : eol}${block}${text.slice(at)}`;
}

/**
 * Returns `text` with `hook` as the last item of spec.hooks. A list in the file gets the hook as
 * text after its last item; a missing or empty one (`hooks:`) is set through the Document API,
 * the only case where the file is re-printed.
 */
export function appendHook(text: string, hook: Hook): string {
  const doc = parseOne(text);
  if (!isMap(doc.contents)) throw new CliError("cannot add: the file is not a HookSet (no mapping at the top)");
  const spec = doc.get("spec", true);
  if (spec !== undefined && spec !== null && !isMap(spec)) throw new CliError("cannot add: spec is not a mapping");
  const hooks = doc.getIn(["spec", "hooks"], true);
  if (isSeq(hooks) && hooks.range) {
    if (hooks.flow) return appendToFlow(text, hooks, hook);
    if (hooks.items.length > 0) return appendToBlock(text, hooks, hook);
  }
  const empty = hooks === undefined || hooks === null || (isScalar(hooks) && hooks.value === null);
  if (!empty) throw new CliError("cannot add: spec.hooks is not a list");
  doc.setIn(["spec", "hooks"], doc.createNode([hook]));
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** Equal as data: the same values, lists and keys, whatever the objects' prototypes. */
function sameData(a: unknown, b: unknown): boolean {
  if (a === b || (Number.isNaN(a) && Number.isNaN(b))) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every(
    (k) => Object.hasOwn(b, k) && sameData((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}

/** `text` with `hook` appended, read back: what `add` writes. Throws CliError when the edit is not exactly that. */
export function withHook(text: string, hook: Hook): string {
  const updated = appendHook(text, hook);
  try {
    checkAppended(text, updated, hook);
  } catch (e) {
    throw new CliError(`${(e as Error).message}; add cannot edit this layout safely, write the hook in by hand`);
  }
  return updated;
}

/**
 * Reads both texts back and throws unless `after` says exactly what `before` said with `hook`
 * appended to spec.hooks: an edit that changed anything else is never written.
 */
export function checkAppended(before: string, after: string, hook: Hook): void {
  const was = dataOf(parseOne(before)) as { spec?: { hooks?: unknown[] } | null };
  let now: { spec?: { hooks?: unknown[] } | null };
  try {
    now = dataOf(parseOne(after)) as typeof now;
  } catch (e) {
    throw new CliError(`the edit would not read back (${(e as Error).message})`);
  }
  const wasHooks = was.spec?.hooks ?? [];
  const nowHooks = now.spec?.hooks ?? [];
  const changed = wasHooks.findIndex((h, i) => !sameData(h, nowHooks[i]));
  if (changed >= 0) throw new CliError(`the edit would change spec.hooks[${changed}]`);
  if (nowHooks.length !== wasHooks.length + 1 || !sameData(nowHooks.at(-1), hook))
    throw new CliError("the new hook would not read back as given");
  const rest = (data: typeof was) => ({ ...data, spec: { ...data.spec, hooks: undefined } });
  if (!sameData(rest(was), rest(now))) throw new CliError("the edit would change more than spec.hooks");
}
