#!/usr/bin/env python3
"""Collect one host's diagnostics into a tar.gz: ./install.sh config.cfg diagnostics runs this
on every host (roles/diagnostics), with the host's own Python (3.6 and later: EL 8's too).

    collect.py SPEC.json OUT.tar.gz

SPEC (JSON, made by the controller from the catalogue, installer/diagnostics.py):
    units     systemd units of the catalogue for this host's OS family (absent ones are skipped)
    files     configuration files and folders of the catalogue
    packages  package names whose installed versions are listed ...
    versions_command  ... by this command (dpkg-query or rpm, the names appended)
    records   glob of the installer's records on the host (/etc/ansible/facts.d/dcos_*.fact)
    since     journalctl --since value ("-24h")
    lines     at most this many journal lines per unit
    max_file  a configuration file larger than this is listed, not copied

Nothing here may carry a secret out: a configuration file is withheld whole (only listed with
its mode, owner and size) when its name or content says it is one (a private key, an htpasswd,
a credentials or secret file, a bare one-line value), JSON is parsed and every value under a
key that names a secret is replaced, and in other files the value after such a key is replaced.
The controller scrubs every known secret value again before it writes the archive (the second
guard: a secret under an unexpected name). Every command is bounded in time; one that fails is
recorded with its exit code, never a reason to stop.
"""

import grp
import io
import json
import os
import pwd
import re
import stat
import subprocess
import sys
import tarfile
import time

REDACTED = "(redacted)"
# Key names that hold a secret (the same words as installer/config/redact.py's, as key names).
SECRET_KEY = re.compile(
    r"pass(word|wd)?|pwd|secret|token|credential|gossip|encrypt|private|api_?key|access_?key|psk|"
    r"passphrase|cookie|(^|[_.-])auth$|^auth$|tokens$", re.I)
# File names that are secrets whole.
SECRET_NAME = re.compile(r"htpasswd|secret|credential|token|passwd|shadow|jaas|\.key$|\.p12$|\.pfx$|id_[a-z0-9]+$",
                         re.I)
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
# A key followed by its value: key = value / key: value / "key": "value" / key value.
KEY = re.compile(r"""["']?([\w.-]+)["']?(\s*[:=]\s*|\s+)""")
HARMLESS = re.compile(r"^(true|false|yes|no|on|off|none|null|\d+|/[\w./-]*|\{|\[|\\)$", re.I)
# Credentials in a URL: scheme://user:password@host.
URL_CREDENTIALS = re.compile(r"(\b[a-z][\w+.-]*://[^/\s:@]+:)([^@\s/]+)(@)", re.I)


def redact_line(line):
    """The line with the value after a key that names a secret replaced: `password = x`,
    `"encrypt": "x",`, `stats auth admin:x`, `auth_pass x`, `user = "admin:x"`, `--secret=x`
    in a command line (a boolean, a number or a path stays: `authenticate_agents=true` says
    something, and is no secret)."""
    line = URL_CREDENTIALS.sub(lambda m: m.group(1) + REDACTED + m.group(3), line)
    pos = 0
    while True:
        match = KEY.search(line, pos)
        if not match:
            return line
        pos = match.end()
        key, rest = match.group(1).lower(), line[match.end():]
        if match.group(2).strip() and not match.group(2)[0].isspace() and " " in rest.strip():
            body = rest.split(None, 1)[0]  # --flag=value --next: the value is one word
        else:
            body = rest.rstrip().rstrip(",;")
        value = body.strip("\"'")
        if not value or HARMLESS.match(value):
            continue
        if SECRET_KEY.search(key) or (key.endswith("user") and ":" in value):
            quote = '"' if body.startswith('"') else "'" if body.startswith("'") else ""
            line = line[:match.end()] + quote + REDACTED + quote + rest[len(body):]
            pos = match.end() + len(REDACTED) + 2 * len(quote)


def redact_json(value, secret=False):
    if isinstance(value, dict):
        return {k: redact_json(v, secret or bool(SECRET_KEY.search(str(k)))) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(v, secret) for v in value]
    if secret and value not in (None, True, False, "") and not isinstance(value, (int, float)):
        return REDACTED
    return value


def redact_text(text):
    """A configuration file's text without its secrets (see the module's docstring)."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, (dict, list)):
        return UUID.sub(REDACTED, json.dumps(redact_json(data), indent=2, sort_keys=True) + "\n")
    out = []
    for line in text.splitlines():
        if line.lstrip().startswith(("#", ";", "//")):
            out.append(line)
        else:
            out.append(UUID.sub(REDACTED, redact_line(line)))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def withheld_reason(path, data):
    """Why a file is not copied (its name or content says it is a secret), or None."""
    if SECRET_NAME.search(os.path.basename(path)):
        return "its name says it holds a secret"
    if b"\0" in data:
        return "not text"
    if b"PRIVATE KEY" in data:
        return "holds a private key"
    meaningful = [ln for ln in data.decode("utf-8", "replace").splitlines()
                  if ln.strip() and not ln.lstrip().startswith(("#", ";", "//"))]
    if len(meaningful) == 1 and not re.search(r"[=:\s{]", meaningful[0].strip()):
        return "one bare value (a secret or a key)"
    return None


class Collector:
    def __init__(self, spec):
        self.spec = spec
        # Ansible's templating gives numbers as text.
        self.max_file = int(spec.get("max_file") or 262144)
        self.lines = int(spec.get("lines") or 5000)
        self.members = {}  # name in the archive -> bytes
        self.commands = []

    def add(self, name, text):
        self.members[name] = text.encode("utf-8", "replace") if isinstance(text, str) else text

    def run(self, argv, timeout=30):
        """The command's output (stdout and stderr), or why there is none."""
        started = time.time()
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=dict(os.environ, LC_ALL="C", SYSTEMD_PAGER="",
                                                                       SYSTEMD_COLORS="0"))
        except OSError as exc:
            self.commands.append({"command": argv, "error": str(exc)})
            return f"({argv[0]}: {exc.strerror or exc})\n"
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            out += f"\n(stopped after {timeout} s)\n".encode()
        self.commands.append({"command": argv, "rc": proc.returncode, "seconds": round(time.time() - started, 2)})
        return out.decode("utf-8", "replace")

    def section(self, name, *commands):
        parts = []
        for argv in commands:
            parts.append("$ " + " ".join(argv) + "\n" + self.run(argv))
        self.add(name, "\n".join(parts))

    # ---- what is collected ---------------------------------------------------------------
    def system(self):
        self.section("system/host.txt", ["uname", "-a"], ["cat", "/etc/os-release"], ["uptime"],
                     ["systemctl", "is-system-running"])
        self.section("system/disk.txt", ["df", "-hT"], ["df", "-i"], ["lsblk"], ["findmnt", "--df"])
        self.section("system/memory.txt", ["free", "-m"], ["cat", "/proc/pressure/memory"], ["swapon", "--show"])
        self.section("system/clock.txt", ["date", "-u", "+%Y-%m-%dT%H:%M:%S.%NZ"], ["timedatectl"],
                     ["chronyc", "-n", "tracking"], ["chronyc", "-n", "sources", "-v"])
        self.section("system/ports.txt", ["ss", "-ltnup"])
        self.section("system/network.txt", ["ip", "addr"], ["ip", "route"], ["cat", "/etc/resolv.conf"],
                     ["cat", "/etc/hosts"])
        self.section("system/firewall.txt", ["nft", "list", "ruleset"])
        self.section("system/units-failed.txt", ["systemctl", "--failed", "--no-legend", "--plain"])
        self.section("system/journal-errors.txt",
                     ["journalctl", "-p", "err", "-b", "--since", self.spec.get("since", "-24h"), "-n", "1000",
                      "--no-pager", "-o", "short-iso"])
        self.section("system/processes.txt", ["ps", "-eo", "pid,ppid,user,stat,rss,etime,args", "--forest"])
        self.section("system/docker.txt", ["docker", "info"], ["docker", "ps", "-a"])

    def units(self):
        for unit in self.spec.get("units", []):
            state = self.run(["systemctl", "show", "-p", "LoadState", "--value", unit + ".service"]).strip()
            if state != "loaded":
                continue
            self.section(f"units/{unit}.status.txt",
                         ["systemctl", "status", "--no-pager", "-l", "-n", "0", unit + ".service"],
                         ["systemctl", "show", "-p", "ActiveState,SubState,Result,NRestarts,ExecMainStatus,"
                          "ActiveEnterTimestamp,MemoryCurrent", unit + ".service"])
            self.add(f"units/{unit}.unit.txt", redact_text(self.run(["systemctl", "cat", unit + ".service"])))
            self.add(f"units/{unit}.journal.txt",
                     self.run(["journalctl", "-u", unit + ".service", "--since", self.spec.get("since", "-24h"),
                               "-n", str(self.lines), "--no-pager", "-o", "short-iso"], timeout=60))

    def versions(self):
        command = self.spec.get("versions_command") or ["dpkg-query", "-W"]
        out = self.run(command + self.spec.get("packages", []))
        self.add("versions.txt", out)
        import glob
        for path in sorted(glob.glob(self.spec.get("records", "/etc/ansible/facts.d/dcos_*.fact"))):
            self.add_file(path, "records")

    def add_file(self, path, prefix, index=None):
        try:
            st = os.lstat(path)
        except OSError as exc:
            if index is not None:
                index.append(f"{path}  absent ({exc.strerror})")
            return
        try:
            owner = f"{pwd.getpwuid(st.st_uid).pw_name}:{grp.getgrgid(st.st_gid).gr_name}"
        except KeyError:
            owner = f"{st.st_uid}:{st.st_gid}"
        meta = f"{path}  {stat.filemode(st.st_mode)} {owner} {st.st_size} bytes"
        if not stat.S_ISREG(st.st_mode):
            if index is not None:
                index.append(meta + "  (not a regular file)")
            return
        if st.st_size > self.max_file:
            if index is not None:
                index.append(meta + f"  withheld: larger than {self.max_file} bytes")
            return
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            if index is not None:
                index.append(meta + f"  unreadable ({exc.strerror})")
            return
        reason = withheld_reason(path, data)
        if reason:
            if index is not None:
                index.append(meta + "  withheld: " + reason)
            return
        if index is not None:
            index.append(meta + "  copied (secrets redacted)")
        self.add(prefix + path, redact_text(data.decode("utf-8", "replace")))

    def config(self):
        index = []
        for top in self.spec.get("files", []):
            if os.path.isdir(top) and not os.path.islink(top):
                for folder, dirs, files in os.walk(top):
                    dirs.sort()
                    for name in sorted(files):
                        self.add_file(os.path.join(folder, name), "config", index)
            else:
                self.add_file(top, "config", index)
        self.add("config/INDEX.txt", "\n".join(index) + "\n")

    def write(self, out):
        with tarfile.open(out, "w:gz") as tar:
            for name, data in sorted(self.members.items()):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
                tar.addfile(info, io.BytesIO(data))


def main(argv):
    with open(argv[1]) as handle:
        spec = json.load(handle)
    started = time.time()
    collector = Collector(spec)
    for part in (collector.system, collector.units, collector.versions, collector.config):
        try:
            part()
        except Exception as exc:  # one part that breaks never costs the others
            collector.add(f"errors/{part.__name__}.txt", f"{type(exc).__name__}: {exc}\n")
    collector.add("collect.json", json.dumps({
        "started": started, "seconds": round(time.time() - started, 2), "host_time": time.time(),
        "commands": collector.commands}, indent=2) + "\n")
    old = os.umask(0o077)
    try:
        collector.write(argv[2])
    finally:
        os.umask(old)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
