# Output directories govstack-gen cannot use: a file (E404), a link leading out of the tree
# (E403), an ownership manifest that is not JSON (E405). Nothing is written anywhere.
cp "$ROOT/tests/cases/valid/minimal/environment.yaml" .
echo "not a folder" > file
gg render -o file
mkdir -p linked elsewhere && ln -s ../elsewhere linked/clusters
gg render -o linked
test -z "$(ls elsewhere)"
gg render -o out
echo "{not json" > out/.govstack-gen/manifest.json
gg render -o out
gg audit out
