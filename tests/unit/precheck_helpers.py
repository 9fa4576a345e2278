"""A small cluster and healthy observations to bend, one fact at a time, in precheck tests."""

import copy
from pathlib import Path
from typing import Any

from installer.config import load_config
from installer.precheck.model import Context, HostObservation

CONFIG = """[cluster]
name = pc
{cluster_extra}
[installer]
inst = 10.3.0.5

[masters]
m1 = 10.3.0.11

[agents]
a1 = 10.3.0.21
10.3.0.22

[precheck]
{precheck_extra}
"""
GB = 1024**3


def make_cfg(tmp_path: Path, cluster_extra: str = "", precheck_extra: str = ""):
    path = tmp_path / "config.cfg"
    path.write_text(CONFIG.format(cluster_extra=cluster_extra, precheck_extra=precheck_extra))
    return load_config(path)


def healthy(host) -> tuple[dict[str, Any], dict[str, Any]]:
    facts = {
        "distribution": "Debian", "distribution_major_version": "12", "distribution_version": "12.5",
        "os_family": "Debian", "kernel": "6.1.0-18-amd64", "service_mgr": "systemd",
        "python": {"version": {"major": 3, "minor": 11, "micro": 2}, "executable": "/usr/bin/python3"},
        "hostname": host.name or "node-" + str(host.ip).replace(".", "-"),
        "all_ipv4_addresses": [str(host.ip)],
    }
    path = {"exists": True, "checked": "/", "free_bytes": 50 * GB, "total_bytes": 100 * GB,
            "free_inodes": 5_000_000, "total_inodes": 6_000_000, "mount": "/", "fstype": "ext4",
            "options": ["rw"], "xfs_ftype": None}
    probe = {
        "now": 1_800_000_000.0, "systemd": True, "euid": 0, "cpus": 8, "memory_mb": 64 * 1024,
        "paths": {"/": dict(path), "/var/lib/docker": dict(path)},
        "listening": [{"proto": "tcp", "address": "0.0.0.0", "port": 22, "pid": 1, "process": "sshd"}],
        "chrony": None, "ntp": {"server": "10.3.0.5", "answered": False, "error": "timed out"},
        "dns": {}, "urls": {}, "components": {}, "local_facts": {}, "selinux": "absent",
        "firewall": {}, "swap_kb": 0,
    }
    return facts, probe


def make_ctx(cfg, bends: dict[str, dict[str, Any]] | None = None, bundle=None) -> Context:
    """Healthy observations for every host; bends[host_id] = {"facts": {...}, "probe": {...}, "error": ...}."""
    hosts = {}
    for host in cfg.all_hosts():
        facts, probe = healthy(host)
        bend = copy.deepcopy((bends or {}).get(host.id, {}))
        facts.update(bend.pop("facts", {}))
        probe.update(bend.pop("probe", {}))
        hosts[host.id] = HostObservation(host=host, groups=cfg.groups_of(host), facts=facts, probe=probe, **bend)
    return Context(cfg=cfg, hosts=hosts, bundle=bundle)
