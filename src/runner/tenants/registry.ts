// Every HookSet resource the runner serves, by namespace and name: a Tenant (tenant.ts) per
// HookSet, created when the HookSet appears, given each new generation, refused while its spec is
// invalid, and drained when it is deleted or replaced by a HookSet of the same name with another
// uid. Changes of one HookSet are applied one at a time, in the order they came; different
// HookSets change in parallel. The sensor endpoint and the /runs API find their HookSet here.
import type { Logger } from "pino";
import { httpError } from "../http-errors.js";
import { servedDefinition, type HookSetResource, type ServedDefinition } from "./resource.js";
import { Tenant, type TenantDeps } from "./tenant.js";

type Entry =
  | { state: "starting"; uid: string }
  | { state: "serving"; uid: string; tenant: Tenant }
  /** Invalid spec, or its runs could not be loaded; `tenant` keeps serving runs accepted before. */
  | { state: "refused"; uid: string; problem: string; tenant?: Tenant };

const RESTART_AFTER_MS = 30_000;

export class HookSetRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly changes = new Map<string, Promise<void>>();
  /** Tenants of deleted or replaced HookSets, draining their running runs. */
  private readonly retiring = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly deps: TenantDeps,
    private readonly logger: Logger,
  ) {}

  /** The HookSet a route names, if it serves events now; else the 404 (or 503 while it starts) to answer. */
  tenant(namespace: string, name: string): Tenant {
    const entry = this.entries.get(key(namespace, name));
    const shown = `${namespace}/${name}`;
    if (!entry) throw httpError("hookset_not_served", shown, "no such HookSet resource");
    if (entry.state === "starting") throw httpError("hookset_starting", shown);
    if (entry.state === "refused") throw httpError("hookset_not_served", shown, entry.problem);
    return entry.tenant;
  }

  /** Tenants serving now (refused ones with runs still finishing included). */
  tenants(): Tenant[] {
    const out: Tenant[] = [];
    for (const entry of this.entries.values()) if (entry.state !== "starting" && entry.tenant) out.push(entry.tenant);
    return out;
  }

  get size(): number {
    return this.entries.size;
  }

  /** A HookSet as listed or watched (ADDED, MODIFIED). Resolves once it is applied. */
  apply(resource: HookSetResource): Promise<void> {
    const definition = servedDefinition(resource);
    if (!definition) return Promise.resolve();
    const { namespace, name } = definition.identity;
    return this.serialize(key(namespace, name), () => this.reconcile(definition));
  }

  /** A HookSet deleted (DELETED, or gone from a new list): its events are refused from now on. */
  remove(namespace: string, name: string): Promise<void> {
    return this.serialize(key(namespace, name), () => {
      this.retire(key(namespace, name), "deleted");
      return Promise.resolve();
    });
  }

  /** The HookSets of a new list, in `inNamespace` (all when undefined): the others are gone. */
  async replaceAll(resources: readonly HookSetResource[], inNamespace?: string): Promise<void> {
    const listed = new Set(
      resources.map((r) => servedDefinition(r)).flatMap((d) => (d ? [key(d.identity.namespace, d.identity.name)] : [])),
    );
    const gone = [...this.entries.keys()].filter(
      (k) => !listed.has(k) && (inNamespace === undefined || k.startsWith(`${inNamespace}/`)),
    );
    await Promise.all([
      ...gone.map((k) => this.remove(...(k.split("/") as [string, string]))),
      ...resources.map((r) => this.apply(r)),
    ]);
  }

  /** Stops taking changes; every tenant drains until `until` (epoch ms). */
  async drain(until: number): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.changes.values()]);
    // Retiring tenants drain within their hooks' deadline; the process does not wait past `until` for them.
    const retiring = Promise.allSettled(this.retiring);
    const limit = new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())).unref());
    await Promise.allSettled([...this.tenants().map((t) => t.drain(until)), Promise.race([retiring, limit])]);
  }

  private serialize(at: string, change: () => Promise<void>): Promise<void> {
    const previous = this.changes.get(at) ?? Promise.resolve();
    const next = previous.then(change).catch((err: unknown) => {
      this.logger.error({ err: (err as Error).message, hookSet: at }, "applying a HookSet change failed");
    });
    this.changes.set(at, next);
    void next.then(() => {
      if (this.changes.get(at) === next) this.changes.delete(at);
    });
    return next;
  }

  private async reconcile(definition: ServedDefinition): Promise<void> {
    if (this.stopped) return;
    const { namespace, name, uid } = definition.identity;
    const at = key(namespace, name);
    let entry = this.entries.get(at);
    // Deleted and created again: another HookSet (its token changed with its uid).
    if (entry && entry.uid !== uid) {
      this.retire(at, "replaced by a HookSet of the same name");
      entry = undefined;
    }
    const tenant = entry && entry.state !== "starting" ? entry.tenant : undefined;
    if ("problem" in definition.parsed) {
      this.entries.set(at, {
        state: "refused",
        uid,
        problem: definition.parsed.problem,
        ...(tenant ? { tenant } : {}),
      });
      this.logger.warn({ hookSet: at, problem: definition.parsed.problem }, "hook set not served: invalid spec");
      return;
    }
    const valid = { ...definition, parsed: definition.parsed };
    if (tenant) {
      if (valid.generation !== tenant.generation) await tenant.edit(valid, this.deps);
      this.entries.set(at, { state: "serving", uid, tenant });
      return;
    }
    this.entries.set(at, { state: "starting", uid });
    try {
      const started = await Tenant.start(valid, this.deps);
      if (this.entries.get(at)?.uid !== uid) {
        // Deleted while it started.
        await started.drain(Date.now());
        return;
      }
      this.entries.set(at, { state: "serving", uid, tenant: started });
      this.logger.info({ hookSet: at, generation: valid.generation }, "serving hook set");
    } catch (err) {
      const problem = `its runs could not be loaded: ${(err as Error).message}`;
      this.entries.set(at, { state: "refused", uid, problem });
      this.logger.error({ hookSet: at, err: (err as Error).message }, "hook set not served; trying again later");
      const again = setTimeout(() => {
        if (this.entries.get(at)?.uid === uid && this.entries.get(at)?.state === "refused")
          void this.serialize(at, () => this.reconcile(definition));
      }, RESTART_AFTER_MS);
      again.unref();
    }
  }

  /** No events from now on; running runs finish within the hooks' deadline, then the tenant stops. */
  private retire(at: string, why: string): void {
    const entry = this.entries.get(at);
    this.entries.delete(at);
    if (!entry || entry.state === "starting" || !entry.tenant) return;
    const tenant = entry.tenant;
    this.logger.info({ hookSet: at, why, running: tenant.queue.inFlight }, "hook set no longer served");
    const draining = tenant.drain(Date.now() + tenant.longestDeadlineMs).finally(() => this.retiring.delete(draining));
    this.retiring.add(draining);
  }
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
