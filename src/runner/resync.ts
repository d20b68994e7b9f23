// The resync: the runner lists a watch's objects itself and hands accept() every state its hooks
// have not handled, as the ADD of a replay would be handed. A watch's UPDATEs come on its changes
// stream alone (trigger/watch.ts streamsOf), an informer of its own in the event source; when the
// event source starts, a change made after the own entry's list and before the changes stream's
// is on neither stream. The runner cannot see when the changes stream listed, so it lists after
// each replay (once the own stream's ADDs have been quiet for quietMs, at most maxWaitMs after the
// first) and every intervalMs, which also finds a change lost any other way. An object it finds
// changed waits deferMs (an UPDATE in flight on the changes stream is handled as an UPDATE, and
// the object is then found handled) and is listed again; only hooks that have handled the object
// before take it: an object they never saw gets its ADD on the own stream, whose replay decides
// its baseline. What accept() then decides is a replayed ADD's: a catch-up, exactly once, for the
// latest state.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Hook } from "../hookset/types.js";
import { resourcePath } from "../k8s/kinds.js";
import type { RestClient } from "../k8s/rest.js";
import type { KubeObject } from "../k8s/types.js";
import { resyncs, eventTypesOf, type ResourceEvent, type WatchPlan } from "../trigger/index.js";
import type { Acceptor } from "./accept.js";

export interface ResyncOptions {
  /** The HookSet's watches as served now (an edit may change them). */
  watches: () => ReadonlyMap<string, WatchPlan>;
  acceptor: Acceptor;
  /** The identity the runner reads the watched objects as (the HookSet's); undefined: no Kubernetes access. */
  rest: () => RestClient | undefined;
  /** The EventSource's name, for the events' context. */
  source: string;
  logger: Logger;
  quietMs?: number;
  maxWaitMs?: number;
  deferMs?: number;
  /** 0: only after replays. */
  intervalMs?: number;
  /** Objects per page of the list. */
  pageSize?: number;
}

export const RESYNC_DEFAULTS = { quietMs: 5_000, maxWaitMs: 60_000, deferMs: 10_000, intervalMs: 600_000 };
/** Objects held per resync (their uids); more wait for the next one. */
const MAX_HELD = 50_000;

export interface ResyncResult {
  listed: number;
  held: number;
  accepted: number;
}

interface WatchState {
  timer?: NodeJS.Timeout;
  firstAddAt?: number;
  running?: Promise<void>;
  again: boolean;
}

export class Resync {
  private readonly states = new Map<string, WatchState>();
  private readonly settings: typeof RESYNC_DEFAULTS;
  private interval: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly aborter = new AbortController();

  constructor(private readonly options: ResyncOptions) {
    this.settings = {
      quietMs: options.quietMs ?? RESYNC_DEFAULTS.quietMs,
      maxWaitMs: options.maxWaitMs ?? RESYNC_DEFAULTS.maxWaitMs,
      deferMs: options.deferMs ?? RESYNC_DEFAULTS.deferMs,
      intervalMs: options.intervalMs ?? RESYNC_DEFAULTS.intervalMs,
    };
  }

  start(): void {
    if (this.settings.intervalMs <= 0) return;
    this.interval = setInterval(() => {
      for (const watch of this.options.watches().keys()) this.schedule(watch, 0);
    }, this.settings.intervalMs);
    this.interval.unref();
  }

  stop(): void {
    this.stopped = true;
    this.aborter.abort();
    clearInterval(this.interval);
    for (const state of this.states.values()) clearTimeout(state.timer);
  }

  /** No resync runs or is scheduled. */
  get idle(): boolean {
    return [...this.states.values()].every((s) => !s.timer && !s.running);
  }

  /** Told of each event accepted for a watch: an ADD is part of a replay (or a creation). */
  observe(watch: string, event: ResourceEvent): void {
    if (event.data.type !== "ADD") return;
    const state = this.state(watch);
    const now = Date.now();
    state.firstAddAt ??= now;
    this.schedule(watch, Math.min(this.settings.quietMs, state.firstAddAt + this.settings.maxWaitMs - now));
  }

  /**
   * Lists the watch now and notes each object whose state its hooks have not handled; after
   * deferMs lists it again and accepts the states of those objects still unhandled. Only uids are
   * held between the two lists, so memory stays one page of objects whatever their size.
   */
  async resync(watch: string): Promise<ResyncResult> {
    const result: ResyncResult = { listed: 0, held: 0, accepted: 0 };
    const plan = this.options.watches().get(watch);
    const rest = this.options.rest();
    if (!plan || !resyncs(eventTypesOf(plan)) || !rest || this.stopped) return result;
    const held = new Set<string>();
    await this.eachObject(rest, watch, (event, uid) => {
      result.listed++;
      if (held.size < MAX_HELD && this.options.acceptor.changedSinceHandled(plan.hooks, event).length > 0)
        held.add(uid);
    });
    result.held = held.size;
    if (held.size === 0) return result;
    // An abort (stop()) ends the wait; the second list then finds this.stopped.
    await sleep(this.settings.deferMs, undefined, { signal: this.aborter.signal, ref: false }).catch(() => undefined);
    await this.eachObject(rest, watch, async (event, uid) => {
      if (!held.has(uid) || this.stopped) return;
      const changed = this.options.acceptor.changedSinceHandled(this.currentHooks(watch), event);
      if (changed.length === 0) return;
      await this.options.acceptor.accept(changed, event);
      result.accepted++;
    });
    return result;
  }

  /** Each object of the watch as the event a replay would carry, a page at a time. */
  private async eachObject(
    rest: RestClient,
    watch: string,
    visit: (event: ResourceEvent, uid: string) => void | Promise<void>,
  ): Promise<void> {
    const plan = this.options.watches().get(watch);
    if (!plan) return;
    for await (const page of listPages(rest, plan, this.options.pageSize ?? 500, this.aborter.signal)) {
      for (const object of page) {
        const uid = object.metadata?.uid;
        if (typeof uid === "string") await visit(this.eventOf(watch, plan, object), uid);
      }
      if (this.stopped) return;
    }
  }

  private currentHooks(watch: string): readonly Hook[] {
    return this.options.watches().get(watch)?.hooks ?? [];
  }

  private state(watch: string): WatchState {
    let state = this.states.get(watch);
    if (!state) this.states.set(watch, (state = { again: false }));
    return state;
  }

  private schedule(watch: string, delayMs: number): void {
    if (this.stopped) return;
    const state = this.state(watch);
    clearTimeout(state.timer);
    state.timer = setTimeout(() => this.run(watch), Math.max(0, delayMs));
    state.timer.unref();
  }

  private run(watch: string): void {
    const state = this.state(watch);
    state.timer = undefined;
    state.firstAddAt = undefined;
    if (state.running) {
      state.again = true;
      return;
    }
    state.running = this.resync(watch)
      .then((r) => {
        if (r.held > 0 || r.accepted > 0) this.options.logger.info({ watch, ...r }, "resync found unhandled changes");
        else this.options.logger.debug({ watch, ...r }, "resync found nothing unhandled");
      })
      .catch((err: unknown) => {
        if (!this.stopped)
          this.options.logger.warn({ watch, err: (err as Error).message }, "resync failed; the next one retries");
      })
      .finally(() => {
        state.running = undefined;
        if (state.again) {
          state.again = false;
          this.schedule(watch, 0);
        }
      });
  }

  private eventOf(watch: string, plan: WatchPlan, object: KubeObject): ResourceEvent {
    const { group, version, resource } = plan.selector;
    const { uid, resourceVersion } = object.metadata ?? {};
    return {
      context: {
        id: `resync:${String(uid)}@${String(resourceVersion)}`,
        source: this.options.source,
        subject: watch,
        type: "resource",
        time: new Date().toISOString(),
      },
      data: { type: "ADD", body: object, oldBody: null, group, version, resource },
    };
  }
}

interface ListPage {
  apiVersion?: string;
  kind?: string;
  items?: KubeObject[];
  metadata?: { continue?: string };
}

/** The watch's objects, a page at a time, each a consistent read of the API server. */
async function* listPages(
  rest: RestClient,
  plan: WatchPlan,
  limit: number,
  signal: AbortSignal,
): AsyncGenerator<KubeObject[]> {
  const path = resourcePath(plan.selector, plan.selector.namespace);
  const labelSelector = Object.entries(plan.selector.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  let continueToken: string | undefined;
  do {
    const page = await rest.request<ListPage>("GET", path, {
      signal,
      query: {
        limit,
        ...(labelSelector ? { labelSelector } : {}),
        ...(continueToken ? { continue: continueToken } : {}),
      },
    });
    // A list's items carry no apiVersion and kind; the event source's objects do.
    const kind = page.kind?.replace(/List$/, "");
    yield (page.items ?? []).map((item) => ({ apiVersion: page.apiVersion, kind, ...item }));
    continueToken = page.metadata?.continue || undefined;
  } while (continueToken);
}
