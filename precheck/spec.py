"""What to observe on each host, from config.cfg: the paths its components write, the names
to resolve, the NTP server, the URLs of the installer's services, the components to look for."""

from typing import Any

from installer.components import COMPONENTS
from installer.config import Config, Host

DOCKER_ROOT = "/var/lib/docker"
# Where the registry role installs the cluster CA for Docker (and so for this probe).
REGISTRY_CA = "/etc/docker/certs.d/{address}/ca.crt"


def paths_of(cfg: Config, groups: list[str]) -> list[str]:
    paths = ["/", DOCKER_ROOT]
    if "installer" in groups:
        paths += [cfg.registry.data_dir, "/srv/dcos"]
    if "masters" in groups:
        paths += [cfg.zookeeper.data_dir, cfg.mesos.master_work_dir]
    if "agents" in groups:
        paths.append(cfg.mesos.agent_work_dir)
    if "mysql" in groups:
        paths.append(cfg.mysql.data_dir)
    return list(dict.fromkeys(paths))


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
    components = {c.name: c.evidence() for c in COMPONENTS if set(c.groups) & set(groups)}
    return {
        "groups": groups,
        "paths": paths_of(cfg, groups),
        "dns_names": [h.name for h in cfg.all_hosts() if h.name],
        "ntp_server": None if "installer" in groups else str(cfg.installer.ip),
        "urls": urls_of(cfg, groups),
        "components": components,
    }


def gather_spec(cfg: Config) -> dict[str, dict[str, Any]]:
    return {host.id: host_spec(cfg, host) for host in cfg.all_hosts()}
