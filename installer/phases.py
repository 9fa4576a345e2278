"""The install phases, in order. Each is one playbook under playbooks/, runnable alone."""

from dataclasses import dataclass
from pathlib import Path

from installer.config import Config

TOP = Path(__file__).resolve().parent.parent
PLAYBOOKS = TOP / "playbooks"


@dataclass(frozen=True)
class Phase:
    name: str
    description: str

    @property
    def playbook(self) -> str:
        return f"{self.name}.yml"

    @property
    def built(self) -> bool:
        return (PLAYBOOKS / self.playbook).is_file()

    def configured(self, cfg: Config) -> bool:
        """Whether config.cfg asks for this phase (lb and mysql are optional)."""
        if self.name == "lb":
            return bool(cfg.group("lb"))
        if self.name == "mysql":
            return cfg.mysql is not None
        return True


PHASES: tuple[Phase, ...] = (
    Phase("repo", "local package repository on the installer host"),
    Phase("registry", "private Docker registry with TLS on the installer host"),
    Phase("hosts", "host init, NTP and Docker on every host"),
    Phase("zookeeper", "ZooKeeper ensemble on the masters"),
    Phase("mesos", "Mesos masters and agents"),
    Phase("marathon", "Marathon on the masters"),
    Phase("consul", "cAdvisor, Consul servers and clients with DNS"),
    Phase("lb", "HAProxy and the Keepalived VIP"),
    Phase("mysql", "MySQL master/slave with Consul failover"),
    Phase("verify", "end-to-end health of the cluster"),
)
PHASE_NAMES = tuple(p.name for p in PHASES)

# Not a phase of the install: a run of its own (./install.sh config.cfg uninstall).
UNINSTALL = Phase("uninstall", "stop and remove what this installer put on the hosts, give back what it changed")
# Nor this one (./install.sh config.cfg diagnostics): it changes nothing on the hosts.
DIAGNOSTICS = Phase("diagnostics", "collect every host's units, journals, configuration and state into one archive")
# Nor this one (./install.sh config.cfg backup).
BACKUP = Phase("backup", "copy ZooKeeper's data from a follower and dump MySQL from the slave into one archive")
# Nor this one (./install.sh config.cfg upgrade --plan): read-only, the hosts' package versions.
VERSIONS = Phase("versions", "read every host's installed package versions and records (changes nothing)")
# Nor this one (./install.sh config.cfg upgrade): after the repo and registry phases, before verify.
UPGRADE = Phase("upgrade", "the plan applied: each step's members in turn, the leader last, each healthy again first")
# Nor this one (./install.sh config.cfg restore ARCHIVE): followed by the verify phase.
RESTORE = Phase("restore", "put ZooKeeper's data and the MySQL dump of a backup back into the installed cluster")


def by_name(name: str) -> Phase:
    for phase in PHASES:
        if phase.name == name:
            return phase
    raise KeyError(name)


def select(only: list[str] | None = None, skip: list[str] | None = None, start: str | None = None) -> list[Phase]:
    """Phases to run, in install order: all, or --phases, minus --skip-phases, from --from on."""
    chosen = [p for p in PHASES if not only or p.name in only]
    if skip:
        chosen = [p for p in chosen if p.name not in skip]
    if start:
        index = PHASE_NAMES.index(start)
        chosen = [p for p in chosen if PHASE_NAMES.index(p.name) >= index]
    return chosen
