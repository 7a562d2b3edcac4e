# validate --charts on the real charts of ../shared/charts: kinds the reconciler may not
# create (E723), Pod Security (E724), claims (E725), quota (E726), routes (E727), values the
# chart never reads (E728), images (E729), Secrets nothing creates (E730).
gg validate --charts --chart-dir "$SHARED/charts" --offline --crds "$SHARED/crds"
