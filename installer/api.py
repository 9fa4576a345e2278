"""The API a web portal imports. It drives exactly what ./install.sh drives: the same
validation, run directory, phases and ansible-runner calls (installer.runner.Run).

    from installer.api import start_run
    run = start_run("config.cfg", phases=["hosts"])   # validates, then runs in the background
    for ev in run.events(): ...                       # or run.subscribe(callback)
    run.status(); run.cancel(); run.wait()

    run = start_uninstall("config.cfg", hosts="agent2")  # the same run as ./install.sh ... uninstall --yes
    run = start_diagnostics("config.cfg")      # ./install.sh ... diagnostics; run.archive when it ends
    run = start_upgrade_plan("config.cfg")     # ./install.sh ... upgrade --plan; run.plan when it ends
    run = start_upgrade("config.cfg", plan)    # ./install.sh ... upgrade --yes, the plan shown applied

    from installer.api import validate
    validate("config.cfg")   # [] when valid, else one dict per error; no host, nothing written
"""

from pathlib import Path
from typing import Any

from installer.config import ConfigError, ConfigInvalid
from installer.config import validate as _validate
from installer.phases import PHASE_NAMES
from installer.runner import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PRECHECK,
    Run,
    RunBusy,
    RunOptions,
    RunStatus,
)

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PRECHECK",
    "PHASE_NAMES",
    "ConfigError",
    "ConfigInvalid",
    "Run",
    "RunBusy",
    "RunOptions",
    "RunStatus",
    "UpgradeRefused",
    "start_diagnostics",
    "start_run",
    "start_uninstall",
    "start_upgrade",
    "start_upgrade_plan",
    "validate",
]


def validate(config_path: str | Path) -> list[dict[str, Any]]:
    """Every error of the config file, [] when it is valid: the validation ./install.sh runs
    first (config.cfg and the files it names), without contacting a host or writing anything
    (no runs/ folder). Each error: {"file", "line", "section", "key", "value", "message",
    "hint"}; a secret's value is "(hidden)", as on the command line."""
    return [error.public() for error in _validate(Path(config_path))]


def start_run(config_path: str | Path, **options: Any) -> Run:
    """Validate config_path and start the run without blocking. Raises ConfigInvalid (every
    error, nothing written) or RunBusy (another run of the same cluster is going on).
    options: phases, skip_phases, start_at, limit, check, verbosity, runs_dir."""
    return Run.start(Path(config_path), RunOptions(**options))


def start_uninstall(config_path: str | Path, hosts: str | None = None, purge_data: bool = False,
                    **options: Any) -> Run:
    """Uninstall (./install.sh config.cfg uninstall --yes): every host, or the comma-separated
    `hosts` (names or addresses of config.cfg). Raises ConfigInvalid for a bad config or a bad
    host list (some masters but not all, an unknown host), RunBusy as start_run.
    options: check, verbosity, runs_dir."""
    from installer.config import load_config
    from installer.uninstall import run_options, select_hosts

    cfg = load_config(Path(config_path))
    chosen, errors = select_hosts(cfg, hosts)
    if errors:
        raise ConfigInvalid([ConfigError(file=Path(config_path), message=e, section="hosts") for e in errors])
    return Run.start(cfg, run_options(cfg, chosen, purge_data, **options))


def start_diagnostics(config_path: str | Path, hosts: str | None = None, since: str | None = None,
                      out: str | Path | None = None, **options: Any) -> Run:
    """Diagnostics (./install.sh config.cfg diagnostics): every host, or the comma-separated
    `hosts`; journals since `since` ("24h" by default, or "90m", "7d"); the archive in `out`
    or the run's folder, its path in run.archive and its manifest in run.manifest once the run
    has ended. Raises ConfigInvalid for a bad config, host list or `since`; RunBusy as start_run.
    options: verbosity, runs_dir."""
    from installer.config import load_config
    from installer.diagnostics import parse_since, run_options, select_hosts

    cfg = load_config(Path(config_path))
    chosen, errors = select_hosts(cfg, hosts)
    journal_since, error = parse_since(since)
    errors += [error] if error else []
    if errors:
        raise ConfigInvalid([ConfigError(file=Path(config_path), message=e, section="hosts") for e in errors])
    return Run.start(cfg, run_options(cfg, chosen, journal_since, Path(out) if out else None, **options))


def start_upgrade_plan(config_path: str | Path, allow_downgrade: bool = False, **options: Any) -> Run:
    """The upgrade's plan (./install.sh config.cfg upgrade --plan): every host asked for its
    packages' versions, read-only; once the run has ended, run.plan is the plan
    (installer.upgrade.Plan: rows, refused, to_json(); None when the hosts could not be read)
    and run.archive its upgrade-plan.json. The run succeeds when the plan is refused: the
    refusal is plan.refused. Raises ConfigInvalid, RunBusy as start_run.
    options: verbosity, runs_dir."""
    from installer.config import load_config
    from installer.upgrade import run_options

    cfg = load_config(Path(config_path))
    return Run.start(cfg, run_options(allow_downgrade, **options))


class UpgradeRefused(Exception):
    """start_upgrade was given a plan it will not apply; reasons: one line each."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__("; ".join(reasons))


def start_upgrade(config_path: str | Path, plan: Any, allow_downgrade: bool = False, **options: Any) -> Run:
    """The upgrade itself (./install.sh config.cfg upgrade --yes after its plan): `plan` is the
    run.plan of a start_upgrade_plan the operator was shown, applied in one run (the new bundle
    published, each step's members in turn, verify). Raises UpgradeRefused when the plan is
    refused, has nothing to do, or was made for another cluster or bundle than config.cfg names
    now (config.cfg changed since: plan again); ConfigInvalid, RunBusy as start_run. Run again
    after a failure, it plans again from the hosts (start_upgrade_plan) and goes on.
    options: verbosity, runs_dir."""
    from installer.config import load_config
    from installer.upgrade import apply_options, turns

    cfg = load_config(Path(config_path))
    reasons = list(plan.refused)
    if plan.cluster != cfg.cluster.name:
        reasons.append(f"the plan is of cluster {plan.cluster}, config.cfg of {cfg.cluster.name}: plan again")
    if Path(plan.bundle).resolve() != Path(cfg.repo.bundle).resolve():
        reasons.append(f"the plan is of the bundle {plan.bundle}, config.cfg names {cfg.repo.bundle}: plan again")
    if any(r.action == "DOWNGRADE" for r in plan.changes) and not allow_downgrade:
        reasons.append("the plan downgrades packages: allow_downgrade=True (and a plan made with it)")
    applied = turns(plan, cfg)
    if not applied and not reasons:
        reasons.append("nothing to upgrade: every package of the cluster is at its target version")
    if reasons:
        raise UpgradeRefused(reasons)
    return Run.start(cfg, apply_options(plan, applied, allow_downgrade, **options))
