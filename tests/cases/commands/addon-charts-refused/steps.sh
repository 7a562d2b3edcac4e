# validate --charts on the add-ons layer: the real cert-manager and EFS CSI driver charts pass;
# copies that ignore what the tree relies on them for are refused (E732, E728): the EFS
# driver's chart creating no CSIDriver and ignoring the controller's nodeSelector,
# cert-manager's ignoring crds.enabled and its service account's annotations.
mkdir charts && cp -r "$SHARED/charts/platform/traefik-41.3.0/traefik" "$SHARED/charts/platform/cert-manager-v1.21.1/cert-manager" "$SHARED/charts/platform/aws-efs-csi-driver-4.4.1/aws-efs-csi-driver" "$SHARED/charts/redis-17.11.6/redis" charts/
gg validate --charts --chart-dir charts --offline --crds "$SHARED/crds"
rm charts/aws-efs-csi-driver/templates/csidriver.yaml
sed -i 's/{{- with .Values.controller.nodeSelector }}/{{- with .Values.controller.ignoredNodeSelector }}/' charts/aws-efs-csi-driver/templates/controller-deployment.yaml
sed -i 's/{{- if or .Values.crds.enabled .Values.installCRDs }}/{{- if .Values.installCRDs }}/' charts/cert-manager/templates/crd-*.yaml
sed -i 's/{{- with .Values.serviceAccount.annotations }}/{{- with .Values.serviceAccount.ignoredAnnotations }}/' charts/cert-manager/templates/serviceaccount.yaml
gg validate --charts --chart-dir charts --offline --crds "$SHARED/crds"
