# The Secret the spec keeps in git, written but not encrypted (the `sops --encrypt` step
# forgotten): every command that reads the tree refuses it (E407) before anything is written.
cp "$ROOT/tests/cases/valid/minimal/environment.yaml" .
gg render -o out
mkdir -p out/secrets/dev/cache && cat > out/secrets/dev/cache/cache-redis.sops.yaml <<'SECRET'
apiVersion: v1
kind: Secret
metadata: {name: cache-redis, namespace: cache}
stringData:
  redis-password: hunter2
SECRET
gg render -o out
gg render -o out --check
gg audit out
