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


def endpoints(cfg: Config, runs_dir: str = "runs") -> list[Endpoint]:
    """Through the VIP (HTTPS, a certificate of the cluster CA or the operator's) when there is
    one; else the first master (any master serves and redirects to the leader)."""
    installer = cfg.installer
    masters = cfg.group("masters")
    out: list[Endpoint] = []
    secrets = f"passwords in {runs_dir}/secrets/{cfg.cluster.name}.yml"
    ca = f"{runs_dir}/state/{cfg.cluster.name}/registry-pki/ca.crt"
    if cfg.group("lb") and cfg.keepalived.vip is not None:
        vip = cfg.keepalived.vip.ip
        tls = f"CA {ca}" if cfg.haproxy.tls_cert == "generate" else "the certificate of [haproxy] tls_cert"
        out += [
            Endpoint("Marathon", _url("https", vip, cfg.haproxy.marathon_port),
                     f"user {cfg.marathon.username}, {secrets}; {tls}"),
            Endpoint("Mesos", _url("https", vip, cfg.haproxy.mesos_port),
                     f"the leading master; read-write endpoints: user {cfg.mesos.username}"),
            Endpoint("Consul", _url("https", vip, cfg.haproxy.consul_port) + "ui/",
                     "ACL token: consul_management_token in runs/secrets" if cfg.consul.acl else ""),
            Endpoint("HAProxy stats", _url("https", vip, cfg.haproxy.stats_port),
                     f"user {cfg.haproxy.stats_user}, {secrets}"),
        ]
    elif masters:
        first = masters[0].ip
        out += [
            Endpoint("Marathon", _url("http", first, cfg.marathon.port), f"user {cfg.marathon.username}, {secrets}"),
            Endpoint("Mesos", _url("http", first, cfg.mesos.master_port), "redirects to the leading master"),
            Endpoint("Consul", _url("http", first, cfg.consul.http_port) + "ui/", ""),
        ]
    if installer is not None:
        registry = cfg.registry.hostname or str(installer.ip)
        out += [
            Endpoint("Docker registry", f"https://{registry}:{cfg.registry.port}/v2/",
                     f"user {cfg.registry.username}, {secrets}; CA: /etc/docker/certs.d on every host"),
            Endpoint("Package repo", _url("http", installer.ip, cfg.repo.port), "from the cluster's hosts"),
        ]
    if cfg.mysql is not None:
        out.append(Endpoint("MySQL", f"mysql-vip.service.{cfg.consul.domain}:{cfg.mysql.port}",
                            f"from cluster hosts; root password in {runs_dir}/secrets/{cfg.cluster.name}.yml"))
    if installer is not None and cfg.registry.tls_cert == "generate":
        out.append(Endpoint("Cluster CA", ca, "trust it in your browser or with curl --cacert"))
    return out


def _url(scheme: str, host, port: int) -> str:
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}/" if port == default else f"{scheme}://{host}:{port}/"
