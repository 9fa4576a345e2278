#!/usr/bin/python
# -*- coding: utf-8 -*-
# Runs on the cluster hosts: must work on Python 2.7 (EL7) and 3.6 (EL8) as well as newer.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: precheck_facts
short_description: Read-only observations of a host for the DCOS installer's precheck
description:
  - Gathers what Ansible facts lack, without changing anything on the host
    (no package installed, no file written).
  - Free space and inodes for each given path (on the nearest existing parent), its mount,
    filesystem type, mount options and the xfs ftype flag.
  - Listening TCP and UDP ports with the owning process.
  - The offset to an NTP server (one SNTP query) and chrony's own view when it runs.
  - Name lookups, HTTP(S) reachability of given URLs, presence of given components.
options:
  paths:
    description: Paths the install will write to.
    type: list
    elements: str
    default: []
  ntp_server:
    description: Address of the NTP server to measure the clock offset against.
    type: str
  dns_names:
    description: Host names to resolve.
    type: list
    elements: str
    default: []
  urls:
    description: >-
      Name to URL (http or https) to fetch; https is verified with ca_file when given. The
      first 64 KiB of the body are returned, or, with C(lines), every line of the whole body
      (up to 64 MiB) that starts with that prefix (a repo index of any size).
    type: list
    elements: dict
    default: []
  components:
    description: Component name to evidence lists (units, binaries, packages, paths) that show it is present.
    type: dict
    default: {}
  tcp:
    description: Name to C(host) and C(port) to open a TCP connection to (the path to another host).
    type: list
    elements: dict
    default: []
  timeout:
    description: Seconds for each network probe.
    type: float
    default: 3
author: DCOS installer team
"""

EXAMPLES = r"""
- name: Observe the host
  dcos.installer.precheck_facts:
    paths: [/var/lib/docker, /var/lib/mesos]
    ntp_server: 10.0.0.5
    dns_names: [master1, master2]
    urls:
      - {name: repo, url: "http://10.0.0.5:8081/"}
    components:
      zookeeper: {units: [zookeeper.service], binaries: [zkServer.sh]}
"""

RETURN = r"""
precheck:
  description: The observations, one key per area.
  returned: always
  type: dict
"""

import json
import os
import re
import socket
import ssl
import struct
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule

try:  # Python 3
    from urllib.request import Request, urlopen
    from urllib.error import HTTPError, URLError
except ImportError:  # Python 2
    from urllib2 import Request, urlopen, HTTPError, URLError

NTP_EPOCH = 2208988800


def run(cmd, timeout=10):
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        return 127, "", str(exc)
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    if proc.poll() is None:
        proc.kill()
        return 124, "", "timed out"
    out, err = proc.communicate()
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def which(name):
    for folder in os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(os.pathsep) + ["/usr/sbin", "/sbin"]:
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def read(path, default=""):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return default


def mounts():
    """Mount points, longest first: (mountpoint, device, fstype, options)."""
    found = []
    for line in read("/proc/self/mounts").splitlines():
        parts = line.split()
        if len(parts) >= 4:
            point = parts[1].replace("\\040", " ")
            found.append((point, parts[0], parts[2], parts[3].split(",")))
    found.sort(key=lambda m: len(m[0]), reverse=True)
    return found


def mount_of(path, table):
    for point, device, fstype, options in table:
        if path == point or path.startswith(point.rstrip("/") + "/") or point == "/":
            return point, device, fstype, options
    return "/", "", "", []


def xfs_ftype(point):
    tool = which("xfs_info")
    if not tool:
        return None
    code, out, _ = run([tool, point])
    match = re.search(r"ftype=(\d)", out)
    return int(match.group(1)) if code == 0 and match else None


def path_info(path, table):
    checked = path
    while not os.path.exists(checked) and checked not in ("/", ""):
        checked = os.path.dirname(checked)
    info = {"exists": os.path.exists(path), "checked": checked or "/"}
    try:
        st = os.statvfs(info["checked"])
        info.update(free_bytes=st.f_bavail * st.f_frsize, total_bytes=st.f_blocks * st.f_frsize,
                    free_inodes=st.f_favail, total_inodes=st.f_files)
    except OSError as exc:
        info["error"] = str(exc)
    point, device, fstype, options = mount_of(os.path.realpath(info["checked"]), table)
    info.update(mount=point, device=device, fstype=fstype, options=options)
    info["xfs_ftype"] = xfs_ftype(point) if fstype == "xfs" else None
    return info


def socket_owners():
    """Socket inode -> (pid, process name), from /proc/*/fd (needs root for other users)."""
    owners = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fd_dir = "/proc/%s/fd" % pid
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        name = read("/proc/%s/comm" % pid).strip()
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                owners[target[8:-1]] = (int(pid), name)
    return owners


def hex_address(text, v6):
    host, port = text.split(":")
    if v6:
        raw = bytes(bytearray.fromhex(host))
        words = struct.unpack("<4I", raw)
        address = socket.inet_ntop(socket.AF_INET6, struct.pack(">4I", *words))
    else:
        address = socket.inet_ntoa(struct.pack("<I", int(host, 16)))
    return address, int(port, 16)


def listening():
    owners = socket_owners()
    found = []
    seen = set()
    for proto, path, v6 in (("tcp", "/proc/net/tcp", False), ("tcp", "/proc/net/tcp6", True),
                            ("udp", "/proc/net/udp", False), ("udp", "/proc/net/udp6", True)):
        for line in read(path).splitlines()[1:]:
            parts = line.split()
            if len(parts) < 10:
                continue
            state = parts[3]
            if proto == "tcp" and state != "0A":  # LISTEN
                continue
            if proto == "udp" and state != "07":  # unconnected
                continue
            address, port = hex_address(parts[1], v6)
            pid, name = owners.get(parts[9], (None, ""))
            key = (proto, address, port)
            if key in seen:
                continue
            seen.add(key)
            found.append({"proto": proto, "address": address, "port": port, "pid": pid, "process": name})
    return found


def sntp(server, timeout):
    """One SNTP query: the offset of this host's clock to the server, in milliseconds."""
    result = {"server": server, "answered": False}
    try:
        address = socket.getaddrinfo(server, 123, 0, socket.SOCK_DGRAM)[0]
        sock = socket.socket(address[0], socket.SOCK_DGRAM)
        sock.settimeout(timeout)
        packet = bytearray(48)
        packet[0] = 0x23  # LI 0, version 4, mode 3 (client)
        t1 = time.time()
        sock.sendto(bytes(packet), address[4])
        data, _ = sock.recvfrom(512)
        t4 = time.time()
        sock.close()
    except (socket.error, socket.timeout, IndexError) as exc:
        result["error"] = str(exc) or exc.__class__.__name__
        return result
    if len(data) < 48:
        result["error"] = "short answer"
        return result
    fields = struct.unpack("!B B B b 11I", data[:48])
    stratum = fields[1]

    def stamp(sec, frac):
        return sec - NTP_EPOCH + frac / 4294967296.0

    t2 = stamp(fields[11], fields[12])  # receive timestamp
    t3 = stamp(fields[13], fields[14])  # transmit timestamp
    result.update(answered=True, stratum=stratum, leap=fields[0] >> 6,
                  offset_ms=round(((t2 - t1) + (t3 - t4)) / 2 * 1000, 3),
                  delay_ms=round(((t4 - t1) - (t3 - t2)) * 1000, 3))
    if stratum == 0 or fields[0] >> 6 == 3:
        result["unsynchronised"] = True
    return result


def chrony():
    tool = which("chronyc")
    if not tool:
        return None
    code, out, err = run([tool, "-n", "-c", "tracking"], timeout=5)
    if code != 0:
        return {"running": False, "error": (err or out).strip()}
    fields = out.strip().split(",")
    try:
        return {"running": True, "reference": fields[1] or fields[0], "stratum": int(fields[2]),
                "offset_ms": round(float(fields[4]) * 1000, 3), "leap": fields[-1]}
    except (IndexError, ValueError):
        return {"running": True, "raw": out.strip()}


def resolve(names):
    answers = {}
    for name in names:
        try:
            infos = socket.getaddrinfo(name, None, socket.AF_INET)
            answers[name] = sorted(set(info[4][0] for info in infos))
        except socket.gaierror:
            answers[name] = []
    return answers


def fetch(url, ca_file, timeout, lines=None):
    result = {"url": url}
    context = None
    try:
        if url.startswith("https"):
            if ca_file and not os.path.isfile(ca_file):
                # Not there yet (a host added to a running cluster: the registry phase puts it
                # there). Whether the service answers is still worth knowing: asked without
                # checking the certificate, and said so.
                result["ca_missing"] = ca_file
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
        request = Request(url, headers={"User-Agent": "dcos-precheck"})
        if context is not None:
            response = urlopen(request, timeout=timeout, context=context)
        else:
            response = urlopen(request, timeout=timeout)
        result["status"] = response.getcode()
        if lines:
            body = response.read(64 * 1024 * 1024).decode("utf-8", "replace")
            result["body"] = "\n".join(line for line in body.splitlines() if line.startswith(lines))
        else:
            result["body"] = response.read(65536).decode("utf-8", "replace")
    except HTTPError as exc:
        result["status"] = exc.code
    except (URLError, socket.error, socket.timeout, ssl.SSLError, ValueError, IOError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        result["error"] = str(reason) or exc.__class__.__name__
    return result


def package_installed(name):
    if which("dpkg-query"):
        code, out, _ = run(["dpkg-query", "-W", "-f", "${Status}", name], timeout=10)
        return code == 0 and "install ok installed" in out
    if which("rpm"):
        code, _, _ = run(["rpm", "-q", name], timeout=10)
        return code == 0
    return False


def unit_exists(unit, root="/"):
    """A unit file in any systemd folder, or an init script. A masked unit (a link to /dev/null,
    as the installer masks package units before installing the package) is no install."""
    for folder in ("etc/systemd/system", "lib/systemd/system", "usr/lib/systemd/system", "run/systemd/system"):
        path = os.path.join(root, folder, unit)
        if os.path.islink(path) and os.readlink(path) == "/dev/null":
            continue
        if os.path.exists(path):
            return True
    return os.path.exists(os.path.join(root, "etc/init.d", unit.replace(".service", "")))


def components(spec):
    found = {}
    for name, evidence in spec.items():
        seen = []
        for unit in evidence.get("units", []):
            if unit_exists(unit):
                seen.append("unit %s" % unit)
        for binary in evidence.get("binaries", []):
            if which(binary):
                seen.append("program %s" % which(binary))
        for package in evidence.get("packages", []):
            if package_installed(package):
                seen.append("package %s" % package)
        for path in evidence.get("paths", []):
            if os.path.exists(path):
                seen.append("path %s" % path)
        found[name] = {"present": bool(seen), "evidence": seen}
    return found


def local_facts():
    facts = {}
    folder = "/etc/ansible/facts.d"
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if name.startswith("dcos") and name.endswith(".fact"):
                try:
                    facts[name[:-5]] = json.loads(read(os.path.join(folder, name)) or "{}")
                except ValueError:
                    facts[name[:-5]] = {"unreadable": True}
    return facts


def selinux():
    if not os.path.isdir("/sys/fs/selinux"):
        return "absent"
    flag = read("/sys/fs/selinux/enforce").strip()
    return {"1": "enforcing", "0": "permissive"}.get(flag, "disabled")


def firewall():
    state = {}
    if which("firewall-cmd"):
        code, out, _ = run(["firewall-cmd", "--state"], timeout=10)
        state["firewalld"] = out.strip() or ("running" if code == 0 else "not running")
    if which("ufw"):
        code, out, _ = run(["ufw", "status"], timeout=10)
        state["ufw"] = out.splitlines()[0].split(":")[-1].strip() if out else "unknown"
    if which("nft"):
        code, out, _ = run(["nft", "list", "ruleset"], timeout=10)
        state.update(nft_rules(out))
    return state


_ADMIT = re.compile(r"^(tcp|udp) dport (\{[^}]*\}|\d+) ip saddr @(\w+) accept")


def nft_rules(ruleset):
    """Rules of the host's own nftables ruleset: not the installer's table (inet dcos_installer),
    not Docker's chains and jumps; whether the installer's table is loaded; and what that table
    admits (dcos_admits: protocol, ports, source addresses, ranges and networks), so that the
    precheck can tell a host the table does not admit yet (one added to config.cfg since)."""
    count, table, chain, ours = 0, "", "", False
    sets, current, admits = {}, None, []
    for line in ruleset.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "table" and len(words) >= 3:
            table = words[1] + " " + words[2]
            ours = ours or table == "inet dcos_installer"
            current = None
        elif words[0] == "set" and len(words) >= 2 and table == "inet dcos_installer":
            current = sets.setdefault(words[1], [])
        elif words[0] == "chain" and len(words) >= 2:
            chain, current = words[1], None
        elif table == "inet dcos_installer":
            if current is not None and (words[0] == "elements" or line.rstrip().endswith((",", "}"))):
                body = line.split("=", 1)[1] if words[0] == "elements" else line
                current.extend(e.strip() for e in body.replace("{", " ").replace("}", " ").split(",") if e.strip())
                if "}" in line:
                    current = None
            match = _ADMIT.match(line.strip())
            if match:
                ports = [int(p) for p in re.findall(r"\d+", match.group(2))]
                admits.append({"proto": match.group(1), "ports": ports, "set": match.group(3)})
        elif (words[0] in ("ip", "ip6", "tcp", "udp", "iif", "oif", "iifname", "oifname", "ct", "meta", "counter")
              and not chain.upper().startswith("DOCKER")
              and "DOCKER" not in line.upper() and "docker0" not in line and "br-" not in line):
            count += 1
    found = {"nft_rules": count, "dcos_table": ours}
    if ours:
        found["dcos_admits"] = [{"proto": a["proto"], "ports": a["ports"], "sources": sets.get(a["set"], [])}
                                for a in admits]
    return found


def tcp_open(host, port, timeout):
    """Whether a TCP connection to host:port is accepted (the path to another host, not a service)."""
    try:
        socket.create_connection((host, int(port)), timeout).close()
        return {"open": True}
    except (socket.error, socket.timeout, OSError, ValueError) as exc:
        return {"open": False, "error": str(exc) or exc.__class__.__name__}


def swap_kb():
    total = 0
    for line in read("/proc/swaps").splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3 and parts[2].isdigit():
            total += int(parts[2])
    return total


def memory_mb():
    for line in read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return None


def safe(fn, *args):
    """One area that breaks must not hide the others: its error is reported in its place."""
    try:
        return fn(*args)
    except Exception as exc:  # reported to the controller, never raised
        return {"probe_error": "%s: %s" % (exc.__class__.__name__, exc)}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="str", default=[]),
            ntp_server=dict(type="str"),
            dns_names=dict(type="list", elements="str", default=[]),
            urls=dict(type="list", elements="dict", default=[]),
            components=dict(type="dict", default={}),
            tcp=dict(type="list", elements="dict", default=[]),
            timeout=dict(type="float", default=3.0),
        ),
        supports_check_mode=True,
    )
    params = module.params
    table = mounts()
    observed = {
        "now": time.time(),
        "systemd": os.path.isdir("/run/systemd/system"),
        "paths": dict((path, safe(path_info, path, table)) for path in params["paths"]),
        "listening": safe(listening),
        "chrony": safe(chrony),
        "ntp": safe(sntp, params["ntp_server"], params["timeout"]) if params["ntp_server"] else None,
        "dns": safe(resolve, params["dns_names"]),
        "urls": dict((item["name"], safe(fetch, item["url"], item.get("ca_file"), params["timeout"],
                                                item.get("lines")))
                     for item in params["urls"]),
        "components": safe(components, params["components"]),
        "tcp": dict((item["name"], safe(tcp_open, item["host"], item["port"], params["timeout"]))
                    for item in params["tcp"]),
        "local_facts": safe(local_facts),
        "selinux": safe(selinux),
        "firewall": safe(firewall),
        "swap_kb": safe(swap_kb),
        "euid": os.geteuid(),
        "cpus": os.sysconf("SC_NPROCESSORS_ONLN"),
        "memory_mb": memory_mb(),
    }
    module.exit_json(changed=False, precheck=observed)


if __name__ == "__main__":
    main()
