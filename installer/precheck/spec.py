"""What to observe on each host, from config.cfg: the paths its components write, the names
to resolve, the NTP server, the URLs of the installer's services, the components to look for."""

from typing import Any

from installer.catalogue import components_of, folders_of
from installer.config import Config, Host

# Where the registry role installs the cluster CA for Docker (and so for this probe).
REGISTRY_CA = "/etc/docker/certs.d/{address}/ca.crt"


def paths_of(cfg: Config, host: Host) -> list[str]:
    """The root and every data folder of the host's components (the catalogue's)."""
    return list(dict.fromkeys(["/", *(path for _, _, path in folders_of(cfg, host))]))


def urls_of(cfg: Config, groups: list[str]) -> list[dict[str, str]]:
    installer = cfg.installer
    registry_address = f"{cfg.registry.hostname or installer.ip}:{cfg.registry.port}"
    ca = REGISTRY_CA.format(address=registry_address)
    repo = f"http://{installer.ip}:{cfg.repo.port}/"
    if "installer" in groups:
        return [{"name": "repo_index", "url": f"{repo}debian/Packages", "lines": "Package:"},
                {"name": "registry_catalog", "url": f"https://{registry_address}/v2/_catalog", "ca_file": ca}]
    return [{"name": "repo", "url": repo},
            {"name": "registry", "url": f"https://{registry_address}/v2/", "ca_file": ca}]


def host_spec(cfg: Config, host: Host) -> dict[str, Any]:
    groups = cfg.groups_of(host)
    components = {c.name: c.evidence() for c in components_of(cfg, host) if c.adoptable}
    return {
        "groups": groups,
        "paths": paths_of(cfg, host),
        "dns_names": [h.name for h in cfg.all_hosts() if h.name],
        "ntp_server": None if "installer" in groups else str(cfg.installer.ip),
        "urls": urls_of(cfg, groups),
        "components": components,
        # The path to the installer host itself (its SSH port, which the installer's firewall
        # never filters): what a host the installer's table does not admit yet can still show.
        "tcp": [] if "installer" in groups else [{"name": "installer_ssh", "host": str(cfg.installer.ip),
                                                   "port": cfg.cluster.ssh_port}],
    }


def gather_spec(cfg: Config) -> dict[str, dict[str, Any]]:
    return {host.id: host_spec(cfg, host) for host in cfg.all_hosts()}
