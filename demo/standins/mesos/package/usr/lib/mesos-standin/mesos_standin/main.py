"""Entry point of /usr/sbin/mesos-master, /usr/sbin/mesos-agent and /usr/sbin/mesos-slave."""

import os
import signal
import sys

from . import common, glog
from .flags import FlagError, Flags


def main(argv):
    program = os.path.basename(argv[0])
    role = "master" if program == "mesos-master" else "agent"
    help_name = "mesos-master" if role == "master" else "mesos-agent"
    flags = Flags(role, program)
    error = None
    try:
        flags.load(argv, os.environ)
    except FlagError as exc:
        error = str(exc)
    if flags.values.get("help"):
        sys.stdout.write(flags.usage() + "\n")
        return 0
    if flags.values.get("version"):
        sys.stdout.write(f"mesos {common.VERSION}\n")
        return 0
    if error is not None:
        sys.stderr.write(f"{error}\n\nSee `{help_name} --help` for a list of supported flags.\n")
        return 1

    if role == "master":
        from .master import Master

        daemon = Master(flags)
    else:
        from .agent import Agent

        daemon = Agent(flags)
    signal.signal(signal.SIGTERM, daemon.terminate)
    signal.signal(signal.SIGINT, daemon.terminate)
    if role == "agent":
        signal.signal(signal.SIGUSR1, daemon.usr1)
    try:
        return daemon.run()
    except common.Exit as exc:
        glog.exit_failure(exc.where, str(exc))
        return 1
