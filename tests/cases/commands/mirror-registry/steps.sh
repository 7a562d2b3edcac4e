# An air-gapped install names its registry as host[:port][/path]: a URL or upper case is
# refused (E801) by bom and render alike, before anything is printed or written.
cp "$ROOT/tests/cases/valid/minimal/environment.yaml" .
gg bom --mirror https://Registry/
gg render -o out --mirror https://Registry/
test ! -e out
gg bom --mirror registry.example.org:5000/govstack
