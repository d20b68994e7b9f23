// The hooks.yaml `resource-hooks init` writes: one hook that only logs, so the file validates,
// generates and runs as it is, and comments that point at the rest.
export const STARTER_HOOKS_YAML = `\
# A HookSet: hooks, each a trigger (a resource and the fields whose change matters) and the steps
# to run after it changed. Reference: docs/hooks-reference.md of resource-hooks.
#   resource-hooks validate -f hooks.yaml                      # errors name file:line:column
#   resource-hooks add --resource apps/v1/deployments --namespace web --name frontend \\
#     --changed 'spec.template.spec.containers[0].image' --http POST=https://example.com/deployed
#   resource-hooks generate -f hooks.yaml --output-dir deploy/ # then: kubectl apply -k deploy/
# Editor completion: resource-hooks schema > hooks.schema.json, and as this file's first line
#   # yaml-language-server: $schema=hooks.schema.json
apiVersion: resource-hooks.io/v1alpha1
kind: HookSet
metadata:
  name: my-hooks             # prefixes every generated object
  namespace: argo-events     # where the runner, EventSource and Sensor live
spec:
  runner:
    # How the Sensor reaches the runner; names the runner's Service (<name>.<namespace>.svc).
    url: http://my-hooks-runner.argo-events.svc:8080
  hooks:
    # Log every image change of one Deployment. Replace the log step with what should happen:
    # http, kubernetes (apply/create/patch/delete), waitFor, githubWorkflow, slack, cdnPurge.
    - name: log-image-change
      on:
        resource:
          group: apps
          version: v1
          resource: deployments
          namespace: default
          name: my-app
        events: [update]
        changed:
          - spec.template.spec.containers[0].image
      steps:
        - name: say
          log:
            message: "{{ object.metadata.name }} now runs {{ object.spec.template.spec.containers[0].image }}"
`;
