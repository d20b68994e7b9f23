// The skeleton every resource-hooks CustomResourceDefinition shares: one group, namespaced, one
// served and stored version. Each CRD module gives only what is its own (names, columns, schema),
// so the HookRun, HookMemory and HookSet definitions cannot drift apart in their common parts.
// The manifest is plain JSON as kubectl reads it; @kubernetes/client-node's model renames
// fields (`_enum`, no x-kubernetes-* keys), so schemas are typed loosely here.
import { API_GROUP, API_VERSION_NAME } from "../model/constants.js";

export type V1JSONSchemaProps = { [keyword: string]: unknown };

export interface CustomResourceDefinition {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
}

export interface CrdDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames?: string[];
  /** Adds the status subresource: status is written through /status only, spec edits bump generation. */
  statusSubresource?: boolean;
  printerColumns: PrinterColumn[];
  openAPIV3Schema: V1JSONSchemaProps;
}

export function customResourceDefinition(
  crd: CrdDefinition,
  labels: Record<string, string> = {},
): CustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${crd.plural}.${API_GROUP}`, ...(Object.keys(labels).length ? { labels } : {}) },
    spec: {
      group: API_GROUP,
      scope: "Namespaced",
      names: {
        kind: crd.kind,
        listKind: `${crd.kind}List`,
        plural: crd.plural,
        singular: crd.singular,
        ...(crd.shortNames ? { shortNames: crd.shortNames } : {}),
        categories: ["resource-hooks"],
      },
      versions: [
        {
          name: API_VERSION_NAME,
          served: true,
          storage: true,
          ...(crd.statusSubresource ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: crd.printerColumns,
          schema: { openAPIV3Schema: crd.openAPIV3Schema },
        },
      ],
    },
  };
}

/** The printer column every CRD ends with, as kubectl shows for built-in kinds. */
export const AGE_COLUMN: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };
