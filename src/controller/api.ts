// The API calls the controller makes, by path over the one REST transport (src/k8s/rest.ts): the
// kinds it touches are fixed (HookSets, Secrets, EventSources, Sensors, EventBuses, reviews), so
// no discovery is needed. Server-side apply with one field manager, forced: the controller owns
// every field it writes, and a field it stops writing is removed from the object.
import type { RestClient } from "../k8s/rest.js";
import { KubeApiError, type KubeObject } from "../k8s/types.js";
import { API_VERSION, HOOKSET_PLURAL } from "../model/constants.js";
import type { WatchPermission } from "./desired.js";

export const FIELD_MANAGER = "resource-hooks-controller";

const ns = (namespace: string): string => encodeURIComponent(namespace);

/** Where the controller's kinds live: collection paths per namespace. */
export const PATHS = {
  hookSets: (namespace?: string): string =>
    namespace
      ? `/apis/${API_VERSION}/namespaces/${ns(namespace)}/${HOOKSET_PLURAL}`
      : `/apis/${API_VERSION}/${HOOKSET_PLURAL}`,
  secrets: (namespace: string): string => `/api/v1/namespaces/${ns(namespace)}/secrets`,
  eventSources: (namespace?: string): string =>
    namespace
      ? `/apis/argoproj.io/v1alpha1/namespaces/${ns(namespace)}/eventsources`
      : "/apis/argoproj.io/v1alpha1/eventsources",
  sensors: (namespace?: string): string =>
    namespace ? `/apis/argoproj.io/v1alpha1/namespaces/${ns(namespace)}/sensors` : "/apis/argoproj.io/v1alpha1/sensors",
  eventBuses: (namespace?: string): string =>
    namespace
      ? `/apis/argoproj.io/v1alpha1/namespaces/${ns(namespace)}/eventbus`
      : "/apis/argoproj.io/v1alpha1/eventbus",
};

/** The collection an object the controller writes belongs to. */
function collectionOf(object: KubeObject): string {
  const namespace = object.metadata?.namespace ?? "";
  if (object.kind === "Secret") return PATHS.secrets(namespace);
  if (object.kind === "EventSource") return PATHS.eventSources(namespace);
  if (object.kind === "Sensor") return PATHS.sensors(namespace);
  throw new Error(`the controller does not write ${object.kind ?? "objects without a kind"}`);
}

export class ControllerApi {
  constructor(readonly rest: RestClient) {}

  /** The HookSet, or undefined when it is gone. */
  async getHookSet(namespace: string, name: string): Promise<KubeObject | undefined> {
    return await this.getOrUndefined(`${PATHS.hookSets(namespace)}/${encodeURIComponent(name)}`);
  }

  /** Writes status through the status subresource; a 404 (the HookSet was deleted meanwhile) is nothing to do. */
  async patchHookSetStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void> {
    try {
      await this.rest.request("PATCH", `${PATHS.hookSets(namespace)}/${encodeURIComponent(name)}/status`, {
        body: { status },
        contentType: "application/merge-patch+json",
      });
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
  }

  async apply(object: KubeObject): Promise<KubeObject> {
    const name = encodeURIComponent(object.metadata?.name ?? "");
    return await this.rest.request<KubeObject>("PATCH", `${collectionOf(object)}/${name}`, {
      query: { fieldManager: FIELD_MANAGER, force: true },
      body: object,
      contentType: "application/apply-patch+yaml",
    });
  }

  /**
   * Creates the object unless one of its name exists (409: nothing to do). For the token Secret:
   * its value is a function of the HookSet's uid and never changes, so the controller needs only
   * `create` on Secrets, never patch or update of a Secret it did not make.
   */
  async createUnlessExists(object: KubeObject): Promise<void> {
    try {
      await this.rest.request("POST", collectionOf(object), { body: object });
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 409)) throw err;
    }
  }

  async list(collection: string, labelSelector: string): Promise<KubeObject[]> {
    const list = await this.rest.request<{ items?: KubeObject[] }>("GET", collection, { query: { labelSelector } });
    return list.items ?? [];
  }

  /** Deletes one object unless its uid changed (a new object of the same name is not ours to delete). */
  async deleteObject(collection: string, object: KubeObject): Promise<void> {
    try {
      await this.rest.request("DELETE", `${collection}/${encodeURIComponent(object.metadata?.name ?? "")}`, {
        body: { apiVersion: "v1", kind: "DeleteOptions", preconditions: { uid: object.metadata?.uid } },
      });
    } catch (err) {
      if (!(err instanceof KubeApiError && (err.status === 404 || err.status === 409))) throw err;
    }
  }

  async eventBusExists(namespace: string, name: string): Promise<boolean> {
    return (await this.getOrUndefined(`${PATHS.eventBuses(namespace)}/${encodeURIComponent(name)}`)) !== undefined;
  }

  /** Whether the ServiceAccount may do `permission` (SubjectAccessReview, as the API server would decide it). */
  async serviceAccountMay(
    serviceAccount: { namespace: string; name: string },
    permission: WatchPermission,
  ): Promise<boolean> {
    const review = await this.rest.request<{ status?: { allowed?: boolean } }>(
      "POST",
      "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      {
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SubjectAccessReview",
          spec: {
            user: `system:serviceaccount:${serviceAccount.namespace}:${serviceAccount.name}`,
            groups: [
              "system:serviceaccounts",
              `system:serviceaccounts:${serviceAccount.namespace}`,
              "system:authenticated",
            ],
            resourceAttributes: {
              group: permission.group,
              resource: permission.resource,
              verb: permission.verb,
              ...(permission.namespace ? { namespace: permission.namespace } : {}),
            },
          },
        },
      },
    );
    return review.status?.allowed === true;
  }

  private async getOrUndefined(path: string): Promise<KubeObject | undefined> {
    try {
      return await this.rest.request<KubeObject>("GET", path);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }
}
