# validate --charts on the add-ons layer: the real Traefik chart passes; a copy of it that keeps
# TCP entry points off its Service and ignores the persistence claim is refused (E731).
mkdir charts && cp -r "$SHARED/charts/platform/traefik-41.3.0/traefik" "$SHARED/charts/redis-17.11.6/redis" charts/
gg validate --charts --chart-dir charts --offline --crds "$SHARED/crds"
sed -i 's/{{- if (index (default dict $config.expose) $.serviceName) }}/{{- if and (index (default dict $config.expose) $.serviceName) (has $name (list "web" "websecure")) }}/' charts/traefik/templates/_service.tpl
sed -i 's/claimName: {{ default (include "traefik.fullname" .) .Values.persistence.existingClaim }}/claimName: {{ include "traefik.fullname" . }}/' charts/traefik/templates/_podtemplate.tpl
gg validate --charts --chart-dir charts --offline --crds "$SHARED/crds"
