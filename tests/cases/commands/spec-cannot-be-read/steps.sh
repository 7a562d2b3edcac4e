# A spec the system refuses to read (EIO from /proc/self/mem, also for root), and one past the
# size limit: coded errors, nothing written, no traceback.
ln -s /proc/self/mem environment.yaml
gg render environment.yaml -o out
head -c 3000000 /dev/zero | tr '\0' '#' > huge.yaml
gg render huge.yaml -o out
gg validate huge.yaml
test ! -e out
