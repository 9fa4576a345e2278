#!/bin/sh
# stop-leaving.sh UNIT [DIR...]
#
# Stops a unit that leaves processes behind (a Mesos agent: KillMode=process, so its executors
# and tasks outlive it), then kills what it left: every process still in its cgroup, and every
# process working in one of DIRs (executors and tasks run in their sandboxes under the agent's
# work dir, whichever cgroup a containerizer put them in).
# The order matters: the unit restarts by itself (Restart=always) after a kill, and a restarted
# agent registers again and is given the killed task anew by Marathon; a stop job ends the
# restart for good, and the stopped agent launches nothing.
# Prints one line per process killed, and "stopped UNIT" when it was running.
set -u
unit=$1
shift
case $unit in *.*) ;; *) unit=$unit.service ;; esac

case $(systemctl is-active "$unit" 2>/dev/null) in
  inactive|failed|unknown|"") ;;
  *) systemctl stop "$unit" || exit 1
     echo "stopped $unit" ;;  # also one waiting to restart (activating)
esac

killed=" "
kill_pid() {
  case $1 in 0|1|"$$") return ;; esac  # 0: a process of another PID namespace
  case $killed in *" $1 "*) return ;; esac
  comm=$(cat "/proc/$1/comm" 2>/dev/null) || return
  kill -KILL "$1" 2>/dev/null && { killed="$killed$1 "; echo "killed $1 ($comm)"; }
}

# What is left in the unit's cgroup (systemd keeps it while it holds processes; the path it
# gives is the whole one, below a container's own cgroup when systemd runs in one).
cgroup=$(systemctl show -p ControlGroup --value "$unit" 2>/dev/null)
if [ -n "$cgroup" ] && [ -d "/sys/fs/cgroup$cgroup" ]; then
  for procs in $(find "/sys/fs/cgroup$cgroup" -name cgroup.procs 2>/dev/null); do
    for pid in $(cat "$procs" 2>/dev/null); do kill_pid "$pid"; done
  done
fi

# Whatever works in the given folders.
[ $# -gt 0 ] || exit 0
for proc in /proc/[0-9]*; do
  cwd=$(readlink "$proc/cwd" 2>/dev/null) || continue
  for dir in "$@"; do
    case $cwd in "$dir"|"$dir"/*) kill_pid "${proc#/proc/}"; break ;; esac
  done
done
exit 0
