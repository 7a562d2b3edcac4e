# What a power cut on a disk that lost data leaves: a committed transaction (the journal names
# the staged file and the digest of the bytes it should hold) whose staged file was cut short.
# audit tells the render is pending (E406); render refuses to roll it forward (E408) and
# changes nothing; once txn/ is removed as the hint says, it renders again.
cp "$ROOT/tests/cases/valid/minimal/environment.yaml" .
gg render -o out
txn=out/.govstack-gen/txn
mkdir -p $txn/files
cp out/clusters/dev/kustomization.yaml $txn/files/000000
full=$(sha256sum $txn/files/000000 | cut -d' ' -f1)
head -c 10 out/clusters/dev/kustomization.yaml > $txn/files/000000
printf '{"write": [["000000", "clusters/dev/kustomization.yaml", "sha256:%s"]], "delete": []}' "$full" > $txn/COMMIT
gg audit out
gg render -o out
cmp out/clusters/dev/kustomization.yaml "$ROOT/tests/cases/valid/minimal/expected/clusters/dev/kustomization.yaml"
rm -r $txn
gg render -o out
