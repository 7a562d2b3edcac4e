# Renders that would strand data are refused (E516) at the volume that moves: the registry's
# where the spec writes it, the shipped cache entry's at the building block's catalog line.
# A building block renamed with its data kept in place (an explicit path) is told at its new
# volume, a removed one at buildingBlocks (the manifest keeps where the data is, not the old
# spec's lines). --allow-data-move renders.
cp environment.yaml original.yaml
gg render -o out
sed 's#root: /srv/k8s-data#root: /srv/other-disk#; s#size: 5Gi#size: 8Gi#' original.yaml > environment.yaml
gg render -o out
sed 's#id: registry#id: records#; s#claimKey: persistence.existingClaim#&, path: data/registry/files#' original.yaml > environment.yaml
gg render -o out
sed '/id: cache/,$d' original.yaml > environment.yaml
gg render -o out
gg render -o out --allow-data-move
