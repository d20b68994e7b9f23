// The API server's rules for object and namespace names (k8s.io/apimachinery/pkg/util/validation),
// in one place for the schema of hooks.yaml, the trigger checks and the command line.
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A namespace's name, and most other names: at most 63 characters. */
export const isDnsLabel = (s: string): boolean => s.length <= 63 && DNS_LABEL.test(s);
/** An object's name: at most 253 characters. */
export const isDnsSubdomain = (s: string): boolean => s.length <= 253 && DNS_SUBDOMAIN.test(s);
