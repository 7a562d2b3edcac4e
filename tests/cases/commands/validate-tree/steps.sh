# validate on a tree edited by hand (--tree): objects that do not match their schema (E701) or
# CRD (E702), a security property broken (E705), an overlay kustomize cannot build (E704);
# kinds without a schema are warnings until CRDs are given (E703); a CRD file that is not YAML
# (E706) and a kustomize that is not there (E707) are errors too.
cp "$ROOT/tests/cases/valid/minimal/environment.yaml" .
gg render -o out
gg validate --tree out
sed -i 's/^  interval:/  intervall: 5m\n  interval:/' out/building-blocks/base/cache/helmrelease-cache.yaml
sed -i 's/^  labels:/  lables: {}\n  labels:/; s/enforce: restricted/enforce: privileged/' out/platform/base/cache/namespace-cache.yaml
gg validate --tree out --crds "$SHARED/crds"
printf 'patches:\n- path: missing-patch.yaml\n' >> out/building-blocks/dev/cache/kustomization.yaml
gg validate --tree out --crds "$SHARED/crds"
echo "kind: [unclosed" > broken-crd.yaml
gg validate --crds broken-crd.yaml
gg validate --kustomize ./no-kustomize
