#!/bin/sh
# PID 1 of a test-bed namespace: private /run /tmp /var/tmp /dev /var/log /var/lib, the bed's own unit
# dirs and users, everything else read-only, then exec a real systemd (see tests/bed/nsbed.py and
# ../shared notes SYSTEMD-NAMESPACE.md for why each step is here).
#
#   ns-init.sh HOST_MNTNS_INODE STATE_DIR [rw:DIR | ro:DIR]...
#
# Started by nsbed.py through `unshare --pid --fork --mount --propagation private --uts --ipc --cgroup`
# with stdin/stdout/stderr on a pty (it becomes /dev/console). STATE_DIR holds log/ lib/ etc-system/
# lib-system/ passwd group. Each DIR is bound through at the same path (rw or ro).
# Refuses to run unless it is PID 1 in a mount namespace that is not the host's and nothing is shared.
set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "ns-init: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: ns-init.sh HOST_MNTNS_INODE STATE_DIR [rw:DIR|ro:DIR]..."
host_mnt=$1
S=$2
shift 2

# --- refuse to touch anything unless we are certainly inside our own namespaces -------------------
[ "$$" = 1 ] || die "refusing to run: not PID 1 of a private pid namespace (pid $$)"
case $host_mnt in ''|*[!0-9]*) die "refusing to run: bad host mount namespace inode '$host_mnt'" ;; esac
[ "$(stat -L -c %i /proc/self/ns/mnt)" != "$host_mnt" ] ||
    die "refusing to run: this is the host's mount namespace"
# optional fields of mountinfo sit between field 6 and " - "; any "shared:" would propagate to the host
if sed 's/ - .*//' /proc/self/mountinfo | grep -q ' shared:'; then
    die "refusing to run: a mount has shared propagation (unshare --propagation private missing?)"
fi
pty=$(tty) || die "stdin is not a terminal (the launcher gives PID 1 a pty as /dev/console)"
case $pty in /dev/pts/*) ;; *) die "unexpected terminal $pty" ;; esac
for spec in "$S" "$@"; do
    d=${spec#r[ow]:}
    case $d in
        /*) ;;
        *) die "not an absolute path: $d" ;;
    esac
    case $d in *[[:space:]]*) die "no blanks in pass-through paths: $d" ;; esac
    case $d in
        /run|/run/*|/dev|/dev/*|/proc|/proc/*|/sys|/sys/*) die "cannot pass $d through (it is privatized)" ;;
    esac
    [ -d "$d" ] || die "no such directory: $d"
done
for spec; do
    case $spec in rw:/*|ro:/*) ;; *) die "bad pass-through spec: $spec" ;; esac
done

# --- stage: a private /run, the state dir and the pass-through dirs parked under it ----------------
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mkdir /run/.state /run/.keep /run/.empty /run/.dev
mount --bind "$S" /run/.state
i=0
for spec; do
    i=$((i + 1))
    mkdir "/run/.keep/$i"
    mount --bind "${spec#r[ow]:}" "/run/.keep/$i"
    case $spec in ro:*) mount -o remount,bind,ro "/run/.keep/$i" ;; esac
done

# --- private /tmp, /var/tmp (systemd-tmpfiles never runs, and could not reach the host's anyway) ---
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp

# --- private /dev: a few device nodes, the pty as /dev/console, our own devpts; no /dev/kmsg -------
mount --rbind /dev /run/.dev
mount -t tmpfs -o mode=755,nosuid tmpfs /dev
for n in null zero full random urandom tty; do
    touch "/dev/$n"
    mount --bind "/run/.dev/$n" "/dev/$n"
done
touch /dev/console
mount --bind "/run/.dev/${pty#/dev/}" /dev/console
mkdir /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
umount -R /run/.dev
rmdir /run/.dev

# --- the bed's state: logs, /var/lib, users, unit dirs ------------------------------------------
mount --bind /run/.state/log /var/log
mount --bind /run/.state/lib /var/lib
mount --bind /run/.state/passwd /etc/passwd
mount --bind /run/.state/group /etc/group
mount --bind /run/.state/etc-system /etc/systemd/system
mount --bind /run/.state/lib-system /usr/lib/systemd/system

# --- pass-through dirs at their own paths (after the private mounts, so they are not hidden) -----
i=0
for spec; do
    i=$((i + 1))
    d=${spec#r[ow]:}
    mkdir -p "$d"           # only ever creates dirs on the private tmpfs / state dirs: $d exists on the host
    mount --move "/run/.keep/$i" "$d"
done
rmdir /run/.keep/* 2>/dev/null || true
rmdir /run/.keep
umount /run/.state
rmdir /run/.state

# --- kernel knobs read-only: PID 1 writes fs.file-max etc. even in container mode -------------
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
if [ -e /proc/sysrq-trigger ]; then
    mount --bind /proc/sysrq-trigger /proc/sysrq-trigger
    mount -o remount,bind,ro /proc/sysrq-trigger
fi
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup   # rooted at our cgroup namespace

# --- everything else read-only. Per-mount flag only: always "remount,bind" (a plain remount would
# change the host's superblock). Kept writable: our tmpfs, /proc, /dev, cgroup, state and rw dirs.
rw_dirs="/var/log /var/lib /etc/systemd/system"
for spec; do
    case $spec in rw:*) rw_dirs="$rw_dirs ${spec#rw:}" ;; esac
done
awk '{ print $5 }' /proc/self/mountinfo | sort -u | while read -r mp; do
    mp=$(printf '%b' "$mp")                   # mountinfo escapes blanks as \040
    case $mp in
        /proc|/proc/*|/dev|/dev/*|/run|/run/*|/tmp|/tmp/*|/var/tmp|/var/tmp/*|/sys/fs/cgroup|/sys/fs/cgroup/*)
            continue ;;
    esac
    keep=
    for d in $rw_dirs; do [ "$mp" = "$d" ] && keep=1; done
    [ -n "$keep" ] && continue
    mountpoint -q "$mp" || continue            # shadowed by one of our mounts
    mount -o remount,bind,ro "$mp"
done
# the loop ran in a subshell (its failure is fatal through set -e); check the result once more
awk '$5 == "/" { print $6 }' /proc/self/mountinfo | grep -qv '^ro' && die "/ is still writable"

# --- systemd in container mode, no generators, only the bed's unit dirs, a reduced bounding set --
exec setpriv --bounding-set -sys_module,-sys_time,-sys_rawio,-net_admin,-syslog,-mac_admin,-mac_override,-wake_alarm,-block_suspend,-sys_pacct \
    env -i container=fftest PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    SYSTEMD_UNIT_PATH=/etc/systemd/system:/usr/lib/systemd/system \
    SYSTEMD_GENERATOR_PATH=/run/.empty SYSTEMD_ENVIRONMENT_GENERATOR_PATH=/run/.empty \
    /lib/systemd/systemd --system --unit=test.target --show-status=no
