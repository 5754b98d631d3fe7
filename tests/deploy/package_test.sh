#!/usr/bin/env bash
# Builds the Debian package from BUILD_DIR (binaries already built), checks its contents and
# control files, runs the packaged heraldd on the packaged config, and, as root, installs it with
# dpkg, checks what postinst made, removes and purges it, and checks nothing is left.
# Usage: tests/deploy/package_test.sh BUILD_DIR
# The install half changes the machine (a herald user, /etc/herald, /usr/bin/heraldd): it runs
# only as root, only where no herald package is installed already, and one run at a time.
set -euo pipefail
build_dir=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
contains() { grep -qE -- "$2" <<<"$1" || fail "$3"; }

version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build_dir/CPackConfig.cmake")
[ -n "$version" ] || fail "no CPACK_PACKAGE_VERSION in $build_dir/CPackConfig.cmake"
arch=$(dpkg --print-architecture)
(cd "$work" && cpack -G DEB --config "$build_dir/CPackConfig.cmake" -B "$work/out" >cpack.log 2>&1) ||
  { cat "$work/cpack.log"; fail "cpack failed"; }
deb="$work/out/herald_${version}_${arch}.deb"
[ -f "$deb" ] || { ls "$work/out"; fail "no $deb"; }
echo "built $(basename "$deb")"

# Contents and control data.
listing=$(dpkg-deb -c "$deb")
for path in ./usr/bin/heraldd ./usr/bin/heraldctl ./usr/bin/herald-sim \
  ./lib/systemd/system/heraldd.service ./etc/herald/herald.json \
  ./usr/share/herald/external-redis.conf ./usr/share/doc/herald/examples/herald.example.json \
  ./usr/share/herald/console/index.html ./usr/share/herald/console/js/api.js; do
  contains "$listing" " ${path//./\\.}\$" "$path is not in the package"
done
info=$(dpkg-deb -I "$deb")
contains "$info" "^ Package: herald$" "package name"
contains "$info" "^ Version: ${version//./\\.}$" "package version"
contains "$info" "^ Depends: .*adduser" "Depends lacks adduser"
contains "$info" "^ Depends: .*redis-server" "Depends lacks redis-server"
contains "$info" "^ Depends: .*libsystemd0" "Depends lacks libsystemd0 (sd_notify)"
for script in postinst prerm postrm conffiles; do
  contains "$info" " $script " "no $script in the control archive"
done
[ "$(dpkg-deb -f "$deb" Package)" = herald ] || fail "dpkg-deb -f Package"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/herald/herald.json ||
  fail "/etc/herald/herald.json is not a conffile"

# The packaged binaries and config, unpacked anywhere: --version names the version, and the config
# passes --check-config as shipped.
dpkg-deb -x "$deb" "$work/root"
"$work/root/usr/bin/heraldd" --version | grep -q "^heraldd $version (commit " || fail "heraldd --version"
"$work/root/usr/bin/heraldctl" --version | grep -q "^heraldctl $version " || fail "heraldctl --version"
"$work/root/usr/bin/herald-sim" --version | grep -q "^herald-sim $version " || fail "herald-sim --version"
"$work/root/usr/bin/heraldd" --config "$work/root/etc/herald/herald.json" --check-config ||
  fail "the shipped config does not pass --check-config"
"$work/root/usr/bin/heraldd" --check-config \
  --config "$work/root/usr/share/doc/herald/examples/herald.example.json" ||
  fail "the example config does not pass --check-config"
echo "contents, control files, --version and the shipped config checked"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP install: not root (dpkg -i needs root; CI runs as root)"
  exit 0
fi
# One run at a time across build trees: two installs and purges would undo each other.
exec 9>/tmp/herald-package-test.lock
flock -w 300 9 || fail "another package test held /tmp/herald-package-test.lock for 5 minutes"
# "" or not-installed: dpkg knows nothing of herald; installed, config-files, ...: it does.
dpkg_status() { dpkg-query -W -f='${db:Status-Status}' herald 2>/dev/null || true; }
if [ -n "$(dpkg_status)" ] && [ "$(dpkg_status)" != not-installed ]; then
  echo "SKIP install: a herald package is installed on this machine already; not touching it"
  exit 0
fi
if getent passwd herald >/dev/null || [ -e /etc/herald ] || [ -e /var/lib/herald ]; then
  echo "SKIP install: a herald user, /etc/herald or /var/lib/herald exists already; not touching it"
  exit 0
fi

purge() { dpkg --purge herald >/dev/null 2>&1 || true; }
trap 'purge; rm -rf "$work"' EXIT
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
getent passwd herald >/dev/null || fail "postinst made no herald user"
[ "$(stat -c %U:%G:%a /var/lib/herald)" = herald:herald:750 ] ||
  fail "/var/lib/herald is $(stat -c %U:%G:%a /var/lib/herald)"
[ "$(stat -c %U:%G:%a /etc/herald/herald.json)" = root:herald:640 ] ||
  fail "/etc/herald/herald.json is $(stat -c %U:%G:%a /etc/herald/herald.json)"
/usr/bin/heraldd --version | grep -q "^heraldd $version " || fail "installed heraldd --version"
# As the service runs it: the herald user must be able to read its config.
runuser -u herald -- /usr/bin/heraldd --check-config --config /etc/herald/herald.json ||
  fail "heraldd --check-config /etc/herald/herald.json as the herald user"
echo "installed: herald user, /var/lib/herald and /etc/herald/herald.json checked"

# The shipped config serves, as the herald user, with its embedded Redis under /var/lib/herald
# (it listens on 8080 and 8081: skipped where something else does).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if port_free 8080 && port_free 8081; then
  (cd / && exec setpriv --reuid=herald --regid=herald --clear-groups \
    /usr/bin/heraldd --config /etc/herald/herald.json) >"$work/heraldd.log" 2>&1 &
  heraldd_pid=$!
  for _ in $(seq 300); do
    curl -fs http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break
    kill -0 "$heraldd_pid" 2>/dev/null || break
    sleep 0.1
  done
  ready=0
  curl -fs http://127.0.0.1:8080/readyz >/dev/null 2>&1 && ready=1
  kill -TERM "$heraldd_pid" 2>/dev/null || true
  status=0
  wait "$heraldd_pid" || status=$?
  [ "$ready" -eq 1 ] || { cat "$work/heraldd.log"; fail "the installed heraldd never answered /readyz"; }
  [ "$status" -eq 0 ] || { cat "$work/heraldd.log"; fail "the installed heraldd exited $status"; }
  [ "$(stat -c %U "/var/lib/herald/redis/appendonlydir")" = herald ] ||
    fail "the embedded Redis's AOF is not under /var/lib/herald/redis, owned by herald"
  echo "the installed heraldd served /readyz as herald, its data in /var/lib/herald"
else
  echo "SKIP serving check: 127.0.0.1:8080 or 8081 is in use"
fi

# remove keeps the config, the data and the user; purge takes them all.
touch /var/lib/herald/kept
dpkg -r herald >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -r"; }
[ ! -e /usr/bin/heraldd ] || fail "dpkg -r left /usr/bin/heraldd"
[ -f /etc/herald/herald.json ] || fail "dpkg -r removed the conffile"
[ -f /var/lib/herald/kept ] || fail "dpkg -r removed the data"
getent passwd herald >/dev/null || fail "dpkg -r removed the user"
dpkg --purge herald >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg --purge"; }
for path in /etc/herald /var/lib/herald /usr/bin/heraldd /usr/bin/heraldctl /usr/bin/herald-sim \
  /lib/systemd/system/heraldd.service /usr/share/herald /usr/share/doc/herald; do
  [ ! -e "$path" ] || fail "dpkg --purge left $path"
done
! getent passwd herald >/dev/null || fail "dpkg --purge left the herald user"
! getent group herald >/dev/null || fail "dpkg --purge left the herald group"
[ -z "$(dpkg_status)" ] || [ "$(dpkg_status)" = not-installed ] || fail "dpkg still has herald: $(dpkg_status)"
echo "removed and purged: nothing left"
