"""`govstack-gen validate`: the rendered tree checked as the cluster would see it.

Separate parts, as in check-jsonschema: `schemas` loads and compiles the schemas (Kubernetes
OpenAPI for a chosen version, CRDs from files), `build` runs kustomize on every overlay,
`policy` checks the security properties, `check` puts them together into a result and `report`
prints it as text or JSON.
"""

__all__ = ["DEFAULT_KUBE_VERSION"]

# The oldest Kubernetes minor that upstream and EKS standard support both still cover
# (https://kubernetes.io/releases/): a field newer than this would break the oldest cluster in use.
# Kept here, free of imports, so that `govstack-gen validate --help` can show it cheaply.
DEFAULT_KUBE_VERSION = "1.35"
