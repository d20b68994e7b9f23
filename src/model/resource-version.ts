// The one comparison of Kubernetes resourceVersions: which of two states of an object was
// written later. Runs, the hooks' memory and trigger evaluation all order states with it.

/**
 * Orders two resourceVersions when both are kube-apiserver's (etcd revisions: decimal integers
 * that grow with every write). They are opaque to clients in general, so anything else is not
 * comparable: undefined.
 */
export function compareResourceVersions(a: string | undefined, b: string | undefined): number | undefined {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  if (a.length !== b.length) return a.length - b.length;
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
