"""glog-style logging: `I1127 10:17:14.123456  1234 main.cpp:123] message` on stderr and, with
--log_dir, in <log_dir>/<program>.<host>.<user>.log.<SEVERITY>.<date>-<time>.<pid> plus the
<program>.<SEVERITY> symlink, as Mesos' logging::initialize sets glog up."""

import datetime
import logging
import os
import pwd
import socket
import sys
import threading

SEVERITIES = ["INFO", "WARNING", "ERROR", "FATAL"]
_lock = threading.Lock()
_state = {"stderr_level": 0, "file_level": 0, "files": [], "initialized": False}


def _prefix(sev, where):
    now = datetime.datetime.now()
    tid = threading.get_native_id()
    return f"{sev[0]}{now:%m%d %H:%M:%S}.{now.microsecond:06d} {tid:5d} {where}] "


def setup(program, log_dir=None, logging_level="INFO", quiet=False):
    level = SEVERITIES.index(logging_level)
    _state["initialized"] = True
    _state["stderr_level"] = 3 if quiet else level
    _state["file_level"] = level
    if log_dir:
        host = socket.gethostname()
        try:
            user = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            user = "invalid-user"
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        for sev in SEVERITIES[level:3]:
            name = f"{program}.{host}.{user}.log.{sev}.{stamp}.{os.getpid()}"
            try:
                handle = open(os.path.join(log_dir, name), "a", encoding="utf-8", buffering=1)  # noqa: SIM115
            except OSError as exc:
                sys.stderr.write(f"Could not create log file: {exc.strerror}\n")
                sys.stderr.write(f"COULD NOT CREATE A LOGGINGFILE {name}!")
                continue
            handle.write(
                f"Log file created at: {datetime.datetime.now():%Y/%m/%d %H:%M:%S}\n"
                f"Running on machine: {host}\n"
                "Log line format: [IWEF]mmdd hh:mm:ss.uuuuuu threadid file:line] msg\n"
            )
            link = os.path.join(log_dir, f"{program}.{sev}")
            try:
                if os.path.islink(link):
                    os.unlink(link)
                os.symlink(name, link)
            except OSError:
                pass
            _state["files"].append((SEVERITIES.index(sev), handle))


def log(sev, where, message):
    index = SEVERITIES.index(sev)
    line = _prefix(sev, where) + message + "\n"
    with _lock:
        if not _state["initialized"]:
            _state["initialized"] = True
            sys.stderr.write("WARNING: Logging before InitGoogleLogging() is written to STDERR\n")
        if index >= _state["stderr_level"]:
            try:
                sys.stderr.write(line)
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
        for level, handle in _state["files"]:
            if index >= level:
                try:
                    handle.write(line)
                except (OSError, ValueError):
                    pass


class _Handler(logging.Handler):
    """Python logging (kazoo's) into the glog stream."""

    def emit(self, record):
        sev = "ERROR" if record.levelno >= logging.ERROR else "WARNING" if record.levelno >= logging.WARNING else "INFO"
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        log(sev, f"{record.filename}:{record.lineno}", message)


def route_python_logging(level=logging.WARNING):
    root = logging.getLogger()
    root.handlers[:] = [_Handler()]
    root.setLevel(level)


def info(where, message):
    log("INFO", where, message)


def warning(where, message):
    log("WARNING", where, message)


def error(where, message):
    log("ERROR", where, message)


def exit_failure(where, message):
    """stout EXIT(EXIT_FAILURE) << message: an ERROR line, then _exit(1) from any thread."""
    log("ERROR", where, f"EXIT with status 1: {message}")
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(1)
