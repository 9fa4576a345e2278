"""The cluster a host was installed as (installer/identity.py): the same name, the same masters
in the same order, the same MySQL pair and the same secrets as the config and secrets of this
run, or the run stops before any phase changes anything."""

from installer.identity import FACT, differences
from installer.precheck.model import Context, HostObservation, fail, ok
from installer.precheck.registry import check

_FIX = {
    "cluster": "check [cluster] name and the host list: this host is another cluster's",
    "masters": "put the masters back as they were (same hosts, same order): adding, removing or reordering "
               "masters this way would rewrite ZooKeeper's ids and the Mesos log over their data; the "
               "replace-master and grow-masters operations do it safely",
    "mysql": "put [mysql] master and slave back as they were: moving the pair this way would start an empty "
             "server where data is; move it by hand (docs/operations.md)",
    "data_dirs": "put the data folders back in config.cfg: a service pointed at a new folder starts empty "
                 "beside its data (move the data by hand first, with the service stopped, then change the key)",
    "secrets": "restore runs/secrets/<cluster>.yml from its backup (or run with the --runs-dir of the original "
               "runs folder): new secrets would lock the running cluster out (Consul, ZooKeeper, the MySQL "
               "replica); to change one on purpose, give it in config.cfg",
}


@check("cluster_identity", "existing")
def cluster_identity(obs: HostObservation, ctx: Context):
    recorded = obs.probe.get("local_facts", {}).get(FACT)
    if ctx.identity is None:
        return [ok("cluster_identity", obs.host.id, "not compared (no secrets known to this run)")]
    if not recorded:
        return [ok("cluster_identity", obs.host.id, "not installed yet")]
    if recorded.get("unreadable"):
        return [fail("cluster_identity", obs.host.id, f"/etc/ansible/facts.d/{FACT}.fact cannot be read",
                     "the precheck must read it as root: check become in config.cfg")]
    found = differences(recorded, ctx.identity, ctx.given_secrets)
    if not found:
        return [ok("cluster_identity", obs.host.id, f"cluster {recorded.get('cluster')}, as installed")]
    return [fail("cluster_identity", obs.host.id, f"{what}: {text}", _FIX[what]) for what, text in found]
