# validate --charts on the Karpenter controller of each stage: the real chart passes; a copy
# that ignores what the tree relies on it for is refused (E732, E728): a fixed cluster name
# instead of settings.clusterName, no NodePool CRD, the service account's annotations and
# the nodeSelector ignored.
mkdir charts && cp -r "$SHARED/charts/platform/karpenter-1.14.1/karpenter" "$SHARED/charts/redis-17.11.6/redis" charts/
gg validate --charts --chart-dir charts --offline --crds "$SHARED/crds"
sed -i 's/(tpl .Values.settings.clusterName .)/"govstack"/' charts/karpenter/templates/deployment.yaml
rm charts/karpenter/crds/karpenter.sh_nodepools.yaml
sed -i 's/{{- with .Values.serviceAccount.annotations }}/{{- with .Values.serviceAccount.ignoredAnnotations }}/' charts/karpenter/templates/serviceaccount.yaml
sed -i 's/{{- with .Values.nodeSelector }}/{{- with .Values.ignoredNodeSelector }}/' charts/karpenter/templates/deployment.yaml
gg validate --charts --chart-dir charts --offline --crds "$SHARED/crds"
