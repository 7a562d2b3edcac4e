# validate --charts when a chart is not found (E720) or helm cannot render it (E722), and when
# helm itself is missing (E721).
gg validate --charts --chart-dir "$SHARED/charts" --offline --crds "$SHARED/crds"
gg validate --charts --helm ./no-helm --offline
