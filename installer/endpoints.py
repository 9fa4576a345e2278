"""Where an operator opens the installed cluster: printed after a successful run, recorded in
summary.json, and what the portal links to."""

from dataclasses import asdict, dataclass

from installer.config import Config


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    note: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def endpoints(cfg: Config) -> list[Endpoint]:
    """Through the VIP when there is one; else the first master (any master serves and
    redirects to the leader)."""
    installer = cfg.installer
    masters = cfg.group("masters")
    out: list[Endpoint] = []
    secrets = f"passwords in runs/secrets/{cfg.cluster.name}.yml"
    marathon_note = f"user {cfg.marathon.username}, {secrets}" if cfg.marathon.username else ""
    if cfg.group("lb") and cfg.keepalived.vip is not None:
        vip = cfg.keepalived.vip.ip
        out += [
            Endpoint("Marathon", _http(vip, cfg.haproxy.marathon_port), marathon_note),
            Endpoint("Mesos", _http(vip, cfg.haproxy.mesos_port), "the leading master"),
            Endpoint("Consul", _http(vip, cfg.haproxy.consul_port) + "ui/",
                     "ACL token: consul_management_token in runs/secrets" if cfg.consul.acl else ""),
            Endpoint("HAProxy stats", _http(vip, cfg.haproxy.stats_port),
                     f"user {cfg.haproxy.stats_user}, {secrets}"),
        ]
    elif masters:
        first = masters[0].ip
        out += [
            Endpoint("Marathon", _http(first, cfg.marathon.port), marathon_note),
            Endpoint("Mesos", _http(first, cfg.mesos.master_port), "redirects to the leading master"),
            Endpoint("Consul", _http(first, cfg.consul.http_port) + "ui/", ""),
        ]
    if installer is not None:
        registry = cfg.registry.hostname or str(installer.ip)
        out += [
            Endpoint("Docker registry", f"https://{registry}:{cfg.registry.port}/v2/",
                     "CA: /etc/docker/certs.d on every host"),
            Endpoint("Package repo", _http(installer.ip, cfg.repo.port), ""),
        ]
    if cfg.mysql is not None:
        out.append(Endpoint("MySQL", f"mysql-vip.service.{cfg.consul.domain}:{cfg.mysql.port}",
                            f"from cluster hosts; root password in runs/secrets/{cfg.cluster.name}.yml"))
    return out


def _http(host, port: int) -> str:
    return f"http://{host}/" if port == 80 else f"http://{host}:{port}/"
