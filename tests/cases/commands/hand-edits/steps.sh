# Files of the tree changed by hand: render refuses to overwrite an edit (E401) and a file it
# does not own (E402), audit reports edits, deletions (E406) and strays, --force restores.
cp "$ROOT/tests/cases/valid/minimal/environment.yaml" .
gg render -o out
echo "# tuned by hand" >> out/clusters/dev/kustomization-cache.yaml
rm out/platform/base/cache/namespace-cache.yaml
echo "notes" > out/clusters/dev/notes.txt
gg audit out
gg render -o out
gg render -o out --check
gg render -o out --force
gg audit out
mkdir -p fresh/clusters/dev && echo "mine" > fresh/clusters/dev/kustomization.yaml
gg render -o fresh
