"""./install.sh: validate config.cfg, then run the install phases through ansible-runner.

Exit codes: 0 success, 1 run failed, 2 bad input, 3 precheck failed, 130 interrupted."""

import argparse
import difflib
import ipaddress
import json
import shutil
import sys
import time
from pathlib import Path

from installer import __version__
from installer.config import ConfigInvalid, load_config, validate
from installer.phases import PHASE_NAMES, PHASES, select
from installer.runner import (
    DEFAULT_RUNS_DIR,
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_PRECHECK,
    Run,
    RunBusy,
    RunOptions,
)

EPILOG = """\
phases, in order: {phases}
exit codes: 0 success, 1 run failed, 2 bad input, 3 precheck failed, 130 interrupted
""".format(phases=", ".join(PHASE_NAMES))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="install.sh", description="Install a DCOS cluster from one config file.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?", help="config.cfg describing the cluster (copy config.cfg.example)")
    p.add_argument("command", nargs="?", default="install",
                   choices=("install", "uninstall", "diagnostics", "renew-certs", "backup", "restore", "upgrade"),
                   help="install (the default); uninstall: stop and remove what this installer put on the "
                        "hosts and give back what it changed (data folders stay unless --purge-data); "
                        "diagnostics: one archive of every host's units, journals, configuration (secrets "
                        "redacted), versions and state, with the last runs (changes nothing); "
                        "renew-certs: issue the certificates made from the cluster CA again now (the "
                        "registry's, the VIP's) and restart or reload what serves them; backup: one archive "
                        "of ZooKeeper's data, a MySQL dump, the secrets, the CA and config.cfg; restore "
                        "ARCHIVE: put a backup's ZooKeeper data and MySQL databases back into the installed "
                        "cluster (downtime), then verify; upgrade --plan: what an upgrade to the bundle "
                        "config.cfg names would change, host by host and in order (changes nothing)")
    p.add_argument("archive", nargs="?", type=Path, help="restore: the backup archive (.tar.gz)")
    p.add_argument("--rehearse", action="store_true",
                   help="restore: restore ARCHIVE into throwaway local containers (Docker, a checkout of the "
                        "installer), install, restore, verify and say what came back; the cluster itself is not "
                        "touched and no config.cfg is needed: ./install.sh restore ARCHIVE --rehearse")
    p.add_argument("--keep", action="store_true", help="with --rehearse: keep the containers (and the copies of "
                                                       "the secrets) to look around")
    p.add_argument("--subnet", metavar="CIDR", help="with --rehearse: the containers' network (default: "
                                                    "172.29.60.0/24)")
    p.add_argument("--plan", action="store_true",
                   help="upgrade: print the plan only (the hosts' versions against the bundle's), change nothing")
    p.add_argument("--allow-downgrade", action="store_true",
                   help="upgrade: a package the bundle has older is planned down instead of refused (never "
                        "MariaDB's)")
    p.add_argument("--validate", action="store_true",
                   help="only validate config.cfg (and the files it names): no host contacted, nothing written; "
                        "exit 0 valid, 2 not (with --json: one JSON document)")
    p.add_argument("--precheck-only", action="store_true", help="check every host, change nothing")
    p.add_argument("--check", action="store_true", help="Ansible check mode: show what would change")
    p.add_argument("--full", action="store_true",
                   help="run every role on every host, also where it is converged since the last run")
    p.add_argument("--phases", help="comma-separated phases to run (default: all)")
    p.add_argument("--skip-phases", help="comma-separated phases to leave out")
    p.add_argument("--from", dest="start_at", metavar="PHASE", help="resume: run from this phase on")
    p.add_argument("--limit", metavar="HOSTS", help="only these hosts (Ansible --limit pattern)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before installing")
    p.add_argument("--hosts", metavar="A,B",
                   help="uninstall, diagnostics: only these hosts (names or addresses of config.cfg)")
    p.add_argument("--since", metavar="AGE", help="diagnostics: journals of the last 90m, 24h (the default), 7d ...")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="diagnostics, backup: write the archive into DIR (default: the run's folder under runs/)")
    p.add_argument("--purge-data", action="store_true",
                   help="uninstall: also delete the data folders (ZooKeeper, Mesos, MySQL, the registry, Docker ...)")
    p.add_argument("--json", action="store_true", help="machine-readable events on stdout, one JSON per line "
                                                        "(with --validate: one JSON document of the errors)")
    p.add_argument("--demo", action="store_true",
                   help="make a local container cluster (Docker) and install into it; config under runs/demo/")
    p.add_argument("--destroy", action="store_true", help="with --demo: remove the demo cluster")
    p.add_argument("--agents", type=int, default=2, metavar="N", help="with --demo: number of agents (default: 2)")
    p.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where runs are recorded (default: runs/)")
    p.add_argument("--list-phases", action="store_true", help="list the phases and exit")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more Ansible output in the log")
    p.add_argument("--version", action="version", version=f"dcos-installer {__version__}")
    return p


def _err(text: str) -> None:
    print(f"install.sh: {text}", file=sys.stderr)


def _phase_list(value: str | None, option: str) -> tuple[list[str] | None, list[str]]:
    if value is None:
        return None, []
    names = [n.strip() for n in value.split(",") if n.strip()]
    errors = []
    for name in names:
        if name not in PHASE_NAMES:
            guess = difflib.get_close_matches(name, PHASE_NAMES, n=1)
            errors.append(f"{option}: unknown phase {name!r}" + (f" (did you mean {guess[0]!r}?)" if guess else "")
                          + f"; phases: {', '.join(PHASE_NAMES)}")
    return names, errors


def _list_phases() -> int:
    for phase in PHASES:
        print(f"{phase.name:<10} {'built' if phase.built else 'not built yet':<14} {phase.description}")
    return 0


def _show_plan(cfg, phases) -> None:
    print(f"Cluster {cfg.cluster.name}: {len(cfg.all_hosts())} hosts")
    for group in ("installer", "masters", "agents", "lb"):
        if cfg.group(group):
            print(f"  {group:<9} {', '.join(str(h) for h in cfg.group(group))}")
    print(f"Phases: {', '.join(p.name for p in phases)}")


def _tool(name: str, argv: list[str]) -> int:
    """./install.sh bundle (the offline bundle), ./install.sh release (the archive of it all)."""
    if name == "bundle":
        from installer.bundler import main as bundle_main

        return bundle_main(argv)
    from installer.release import main as release_main

    return release_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["bundle"], ["release"]):
        return _tool(argv[0], argv[1:])
    if argv[:1] == ["restore"]:  # ./install.sh restore ARCHIVE --rehearse: no config.cfg, the archive's
        return _rehearse_alone(argv)
    args = _parser().parse_intermixed_args(argv)  # "config.cfg --runs-dir X uninstall" too
    if _misplaced_flags(args):
        return EXIT_BAD_INPUT
    if args.list_phases:
        return _list_phases()
    if args.destroy and not args.demo:
        _err("--destroy goes with --demo")
        return EXIT_BAD_INPUT
    if args.validate and args.demo:
        _err("--validate checks a config file: give it, without --demo")
        return EXIT_BAD_INPUT
    if args.demo:
        if args.config:
            _err("--demo makes its own config.cfg (under runs/demo/): give no config file")
            return EXIT_BAD_INPUT
        code = _demo(args)
        if code is not None:
            return code
    if not args.config:
        _parser().print_usage(sys.stderr)
        _err("give the config file: ./install.sh config.cfg (copy config.cfg.example to start)")
        return EXIT_BAD_INPUT
    if args.validate:
        return _validate(args.config, args.json)
    if args.archive is not None and args.command != "restore":
        _err(f"{args.archive}: an archive goes with restore only: ./install.sh config.cfg restore ARCHIVE")
        return EXIT_BAD_INPUT
    if args.command != "install" or args.hosts or args.purge_data or args.since or args.out:
        return _operation(args)

    only, errors = _phase_list(args.phases, "--phases")
    skip, more = _phase_list(args.skip_phases, "--skip-phases")
    errors += more
    if args.start_at and args.start_at not in PHASE_NAMES:
        errors.append(f"--from: unknown phase {args.start_at!r}; phases: {', '.join(PHASE_NAMES)}")
    try:
        cfg = load_config(Path(args.config))
    except ConfigInvalid as exc:
        _print_errors(args.config, exc.errors)
        for error in errors:
            print(f"  {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if errors:
        for error in errors:
            _err(error)
        return EXIT_BAD_INPUT

    phases = [p for p in select(only, skip, args.start_at) if p.configured(cfg)]
    if not args.precheck_only:
        if not phases:
            _err("no phase selected")
            return EXIT_BAD_INPUT
        missing = [p.name for p in phases if not p.built]
        if missing:
            built = [p.name for p in phases if p.built]
            _err(f"phases not built yet: {', '.join(missing)}; no host was contacted."
                 + (f" Run what exists with --phases {','.join(built)}" if built else ""))
            return EXIT_FAILED

    if not args.yes and not args.precheck_only:
        if sys.stdin.isatty():  # on a non-terminal, only the refusal
            _show_plan(cfg, phases)
        code = _asked("Install now? [y/N] ", "install without the prompt", "not installing")
        if code is not None:
            return code

    options = RunOptions(phases=[p.name for p in phases], limit=args.limit, check=args.check,
                         verbosity=args.verbose, runs_dir=args.runs_dir, precheck_only=args.precheck_only,
                         full=args.full)
    run = _start(cfg, options)
    return EXIT_BAD_INPUT if run is None else follow(run, args)


def _refused_flags(args, allowed: tuple[str, ...], command: str, hint: str = "") -> bool:
    """Say the options that do not go with this command; True when there were any."""
    given = {"--phases": args.phases, "--skip-phases": args.skip_phases, "--from": args.start_at,
             "--limit": args.limit, "--hosts": args.hosts, "--precheck-only": args.precheck_only, "--demo": args.demo,
             "--purge-data": args.purge_data, "--since": args.since, "--out": args.out, "--check": args.check}
    wrong = [flag for flag, value in given.items() if value and flag not in allowed]
    if wrong:
        _err(f"{', '.join(wrong)}: not with {command}{hint}")
    return bool(wrong)


def _asked(question: str, to_do: str, refused: str, answer_ok=None) -> int | None:
    """Ask on the terminal: None when the operator agreed, else the exit code (2 on a
    non-terminal, which must pass --yes; 1 when the answer was no). answer_ok: whether the
    stripped answer agrees (default: y or yes)."""
    if not sys.stdin.isatty():
        _err(f"not asking on a non-terminal: pass --yes to {to_do}")
        return EXIT_BAD_INPUT
    try:
        answer = input(question).strip()
    except EOFError:
        answer = ""
    if not (answer_ok(answer) if answer_ok else answer.lower() in ("y", "yes")):
        _err(refused)
        return EXIT_FAILED
    return None


def _config(args):
    """config.cfg loaded, or None with every error printed."""
    try:
        return load_config(Path(args.config))
    except ConfigInvalid as exc:
        _print_errors(args.config, exc.errors)
        return None


def _rehearse_alone(argv: list[str]) -> int:
    args = _parser().parse_intermixed_args(["-", *argv])
    args.config = None
    if not args.rehearse:
        _err("restore needs the cluster's config.cfg: ./install.sh config.cfg restore ARCHIVE (or rehearse it "
             "without: ./install.sh restore ARCHIVE --rehearse)")
        return EXIT_BAD_INPUT
    return _rehearse(args)


def _misplaced_flags(args) -> bool:
    """A flag of one command given with another (said)."""
    if (args.plan or args.allow_downgrade) and args.command != "upgrade":
        _err("--plan and --allow-downgrade go with upgrade: ./install.sh config.cfg upgrade --plan")
        return True
    if (args.keep or args.subnet) and not args.rehearse:
        _err("--keep and --subnet go with restore ARCHIVE --rehearse")
        return True
    if args.rehearse and args.command != "restore":
        _err("--rehearse goes with restore: ./install.sh restore ARCHIVE --rehearse")
        return True
    return False


def _start(cfg, options):
    """The run started, or None when another run of the cluster holds it (said)."""
    try:
        return Run.start(cfg, options)
    except RunBusy as exc:
        _err(str(exc))
        return None


def _out_is_not_a_folder(args) -> bool:
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        _err(f"--out {args.out}: not a folder")
        return True
    return False


def _operation(args) -> int:
    """A command other than install, or an option of one given without it."""
    if args.command == "diagnostics":
        return _diagnostics(args)
    if args.command == "renew-certs":
        return _renew_certs(args)
    if args.command == "backup":
        return _backup(args)
    if args.command == "restore":
        return _rehearse(args) if args.rehearse else _restore(args)
    if args.command == "upgrade":
        return _upgrade(args)
    if args.since or args.out:
        _err("--since and --out go with diagnostics (and --out with backup): ./install.sh config.cfg diagnostics "
             "[--since 24h] [--out DIR]")
        return EXIT_BAD_INPUT
    return _uninstall(args)


def _uninstall(args) -> int:
    """./install.sh config.cfg uninstall: the plan, the question, then one run of
    playbooks/uninstall.yml (installer/uninstall.py)."""
    from installer.uninstall import config_lines, plan, render, render_followup, run_options, select_hosts

    if args.command != "uninstall":
        _err("--hosts and --purge-data go with uninstall: ./install.sh config.cfg uninstall [--hosts a,b] "
             "[--purge-data]")
        return EXIT_BAD_INPUT
    if _refused_flags(args, ("--hosts", "--purge-data", "--check", "--since", "--out"), "uninstall",
                      " (choose hosts with --hosts)"):
        return EXIT_BAD_INPUT
    cfg = _config(args)
    if cfg is None:
        return EXIT_BAD_INPUT
    hosts, errors = select_hosts(cfg, args.hosts)
    if errors:
        for error in errors:
            _err(error)
        return EXIT_BAD_INPUT
    everything = len(hosts) == len(cfg.all_hosts())
    # With --json, stdout carries only the run's events: the plan goes to stderr.
    out = sys.stderr if args.json else sys.stdout
    print(render(cfg, plan(cfg, hosts), args.purge_data, everything), file=out, flush=True)
    if args.check:
        print("(check mode: the run shows what would be removed and removes nothing)", file=out, flush=True)
    elif not args.yes:
        if args.purge_data:
            code = _asked(f"Type the cluster's name ({cfg.cluster.name}) to uninstall and delete the data: ",
                          "uninstall without the prompt", "not uninstalling", cfg.cluster.name.__eq__)
        else:
            code = _asked("Uninstall now? [y/N] ", "uninstall without the prompt", "not uninstalling")
        if code is not None:
            return code
    options = run_options(cfg, hosts, args.purge_data, check=args.check, verbosity=args.verbose,
                          runs_dir=args.runs_dir)
    run = _start(cfg, options)
    if run is None:
        return EXIT_BAD_INPUT
    code = follow(run, args)
    if code == 0 and not everything and not args.check:
        lines = config_lines(Path(args.config).read_text(), hosts)
        print(render_followup(args.config, lines, hosts), file=out, flush=True)
    return code


def _diagnostics(args) -> int:
    """./install.sh config.cfg diagnostics: one run of playbooks/diagnostics.yml, then the
    archive's path and what is missing from it (installer/diagnostics.py). No question asked:
    nothing on the hosts changes."""
    from installer.diagnostics import parse_since, run_options, select_hosts

    if _refused_flags(args, ("--hosts", "--since", "--out"), "diagnostics", " (choose hosts with --hosts)"):
        return EXIT_BAD_INPUT
    since, error = parse_since(args.since)
    if error:
        _err(error)
        return EXIT_BAD_INPUT
    if _out_is_not_a_folder(args):
        return EXIT_BAD_INPUT
    cfg = _config(args)
    if cfg is None:
        return EXIT_BAD_INPUT
    hosts, errors = select_hosts(cfg, args.hosts)
    if errors:
        for error in errors:
            _err(error)
        return EXIT_BAD_INPUT
    run = _start(cfg, run_options(cfg, hosts, since, args.out, verbosity=args.verbose, runs_dir=args.runs_dir))
    if run is None:
        return EXIT_BAD_INPUT
    code = follow(run, args)
    out = sys.stderr if args.json else sys.stdout
    if run.archive is not None:
        parts = run.manifest["hosts"]
        got = [h for h, v in parts.items() if v["collected"]]
        print(f"Diagnostics of {len(got)} of {len(parts)} hosts: {_shown_path(run.archive)} "
              f"({run.archive.stat().st_size // 1024} KiB; secrets redacted: it can be sent as it is)",
              file=out, flush=True)
        for host, part in parts.items():
            if not part["collected"]:
                print(f"  not in it: {host}: {part['why']}", file=out, flush=True)
    return code


def _renew_certs(args) -> int:
    """./install.sh config.cfg renew-certs: the certificates and what happens to each, the
    question, then the registry and lb phases with every made certificate issued again, and
    verify (installer/certs.py)."""
    from installer.certs import certificates, render_plan

    if _refused_flags(args, ("--check",), "renew-certs"):
        return EXIT_BAD_INPUT
    cfg = _config(args)
    if cfg is None:
        return EXIT_BAD_INPUT
    certs = certificates(cfg, args.runs_dir)
    phases = [p for p in select(["registry", "lb", "verify"]) if p.configured(cfg)]
    if not any(c.renewed_by for c in certs):
        _err(f"no certificate of cluster {cfg.cluster.name} made by the installer under {args.runs_dir}: nothing to "
             "renew (install first; certificates config.cfg gives are yours to replace)")
        return EXIT_BAD_INPUT
    out = sys.stderr if args.json else sys.stdout
    print(render_plan(cfg, certs, [p.name for p in phases]), file=out, flush=True)
    if not args.yes and not args.check:
        code = _asked("Renew now? [y/N] ", "renew without the prompt", "not renewing")
        if code is not None:
            return code
    options = RunOptions(phases=[p.name for p in phases], check=args.check, verbosity=args.verbose,
                         runs_dir=args.runs_dir, extravars={"dcos_renew_certs": True})
    run = _start(cfg, options)
    if run is None:
        return EXIT_BAD_INPUT
    code = follow(run, args)
    if code == 0 and not args.check:
        for cert in certificates(cfg, args.runs_dir):
            print(f"  {cert.label} ({cert.path.name}): valid until {cert.not_after:%Y-%m-%d %H:%M} UTC", file=out)
    return code


def _backup(args) -> int:
    """./install.sh config.cfg backup: the plan, the question (a ZooKeeper member stops for the
    copy), one run of playbooks/backup.yml, then the archive (installer/backup.py)."""
    from installer.backup import plan, run_options

    if _refused_flags(args, ("--out",), "backup", " (a backup is of the whole cluster)") or _out_is_not_a_folder(args):
        return EXIT_BAD_INPUT
    cfg = _config(args)
    if cfg is None:
        return EXIT_BAD_INPUT
    out = sys.stderr if args.json else sys.stdout
    print(plan(cfg), file=out, flush=True)
    if not args.yes:
        code = _asked("Back up now? [y/N] ", "back up without the prompt (as from cron)", "not backing up")
        if code is not None:
            return code
    run = _start(cfg, run_options(cfg, args.out, verbosity=args.verbose, runs_dir=args.runs_dir))
    if run is None:
        return EXIT_BAD_INPUT
    code = follow(run, args)
    if run.archive is not None:
        print(f"Backup: {_shown_path(run.archive)} ({run.archive.stat().st_size // 1024} KiB, mode 0600; it holds the "
              "cluster's secrets: keep it where runs/secrets is kept, off this machine too)", file=out, flush=True)
        mysql = run.manifest["parts"].get("mysql") if run.manifest else None
        if mysql and mysql.get("from") and mysql.get("why"):
            print(f"MySQL: dumped on {mysql['from']}, {mysql['why']}", file=out, flush=True)
    elif run.manifest is not None:
        print("No backup written: " + "; ".join(f"{k}: {v}" for k, v in run.manifest["missing"].items()),
              file=out, flush=True)
    return code


def _upgrade(args) -> int:
    """./install.sh config.cfg upgrade [--plan] [--yes] [--allow-downgrade]: the hosts asked for
    their versions (read-only), the plan printed (installer/upgrade.py); exit 2 when it is refused
    (a downgrade, a host installed by a newer installer, a host not read). With --plan, that is
    all; otherwise, after the question, one run: the new bundle published (repo, registry), the
    plan applied step by step (playbooks/upgrade.yml), verify."""
    from installer.upgrade import apply_options, render, run_options, turns

    if _refused_flags(args, (), "upgrade", " (an upgrade is of the whole cluster)"):
        return EXIT_BAD_INPUT
    cfg = _config(args)
    if cfg is None:
        return EXIT_BAD_INPUT
    out = sys.stderr if args.json else sys.stdout
    run = _start(cfg, run_options(args.allow_downgrade, verbosity=args.verbose, runs_dir=args.runs_dir))
    if run is None:
        return EXIT_BAD_INPUT
    code = follow(run, args)
    if run.plan is None:
        return code or EXIT_BAD_INPUT
    print(render(run.plan), file=out, flush=True)
    if run.plan.refused:
        return EXIT_BAD_INPUT
    if args.plan or code != 0:
        return code
    steps = turns(run.plan, cfg)
    if not steps:
        print("Nothing to upgrade.", file=out, flush=True)
        return 0
    if not args.yes:
        answer = _asked("Upgrade now, in this order? [y/N] ", "upgrade without the prompt", "not upgrading")
        if answer is not None:
            return answer
    run = _start(cfg, apply_options(run.plan, steps, args.allow_downgrade, verbosity=args.verbose,
                                    runs_dir=args.runs_dir))
    if run is None:
        return EXIT_BAD_INPUT
    return follow(run, args)


def _restore(args) -> int:
    """./install.sh config.cfg restore ARCHIVE: the archive checked whole and against this
    cluster before any host is contacted, the secrets compared (put back when this controller
    has none, then stop: install with them first), the plan, the question, then one run of
    playbooks/restore.yml and verify (installer/restore.py)."""
    from installer.restore import (
        check_against,
        plan,
        put_secrets_back,
        run_options,
        secrets_state,
    )

    if _refused_flags(args, (), "restore", " (a restore is of the whole cluster)"):
        return EXIT_BAD_INPUT
    if args.archive is None:
        _err("restore: give the backup archive: ./install.sh config.cfg restore ARCHIVE")
        return EXIT_BAD_INPUT
    cfg = _config(args)
    if cfg is None:
        return EXIT_BAD_INPUT
    backup = _open_backup(args)
    if backup is None:
        return EXIT_BAD_INPUT
    try:
        problems = check_against(cfg, backup)
        if problems:
            for problem in problems:
                _err(problem)
            return EXIT_BAD_INPUT
        out = sys.stderr if args.json else sys.stdout
        state = secrets_state(cfg, backup, args.runs_dir)
        if state.state == "different":
            _err(f"runs/secrets/{cfg.cluster.name}.yml differs from the archive's ({', '.join(state.differing)}): "
                 "the data only opens with the archive's secrets (ZooKeeper's ACLs, the MySQL accounts). A cluster "
                 "installed anew with new secrets: uninstall it, move that file aside, run this restore again (it "
                 "puts the archive's back), install, restore")
            return EXIT_BAD_INPUT
        if state.state == "missing":
            written, kept = put_secrets_back(cfg, backup, args.runs_dir)
            for path in written:
                print(f"Put back from the archive: {_shown_path(path)}", file=out)
            for path in kept:
                print(f"Kept this controller's {_shown_path(path)} (the archive's copy stays in its secrets/)",
                      file=out)
            print(f"This controller had no secrets of cluster {cfg.cluster.name}: the archive's are back. Install "
                  f"the cluster with them, then restore its data:\n  ./install.sh {args.config} --yes\n"
                  f"  ./install.sh {args.config} restore {args.archive} --yes", file=out, flush=True)
            return 0
        print(plan(cfg, backup, args.archive.stat().st_size), file=out, flush=True)
        if not args.yes:
            code = _asked(f"Type the cluster's name ({cfg.cluster.name}) to restore it: ", "restore without the "
                          "prompt", "not restoring", cfg.cluster.name.__eq__)
            if code is not None:
                return code
        run = _start(cfg, run_options(backup, verbosity=args.verbose, runs_dir=args.runs_dir))
        if run is None:
            return EXIT_BAD_INPUT
        code = follow(run, args)
        if code == 0:
            print(f"Restored cluster {cfg.cluster.name} from {backup.path.name} (taken {backup.created}); the "
                  "members' data before it is kept as version-2.pre-restore-* in ZooKeeper's data folder "
                  "(each member keeps its two newest)",
                  file=out, flush=True)
        return code
    finally:
        backup.close()


def _rehearse(args) -> int:
    """./install.sh restore ARCHIVE --rehearse: the archive checked as a restore checks it, then
    throwaway containers of its cluster, install, restore, verify, what came back, and the
    containers removed (installer/rehearse.py)."""
    from installer import rehearse
    from installer.demo import TOP
    from installer.restore import check_against

    if _refused_flags(args, (), "restore --rehearse", " (the rehearsal is of the whole cluster)"):
        return EXIT_BAD_INPUT
    if args.archive is None:
        _err("restore --rehearse: give the backup archive: ./install.sh restore ARCHIVE --rehearse")
        return EXIT_BAD_INPUT
    if not (TOP / "demo" / "node").is_dir():
        _err("restore --rehearse makes local containers (Docker, the demo's node image): it needs a checkout of "
             "the installer's repository, not a release; copy the archive to such a machine")
        return EXIT_BAD_INPUT
    try:
        subnet = ipaddress.ip_network(args.subnet or rehearse.SUBNET)
        if subnet.prefixlen > 24:
            raise ValueError("give a /24 or larger")
    except ValueError as exc:
        _err(f"--subnet {args.subnet}: {exc}")
        return EXIT_BAD_INPUT
    backup = _open_backup(args)
    if backup is None:
        return EXIT_BAD_INPUT
    try:
        if args.config:  # given: it must be the archive's cluster (the rehearsal uses the archive's)
            given = _config(args)
            if given is None:
                return EXIT_BAD_INPUT
            problems = check_against(given, backup)
            for problem in problems:
                _err(problem)
            if problems:
                return EXIT_BAD_INPUT
        return _rehearsal(args, rehearse.Rehearsal(backup, subnet=str(subnet)))
    finally:
        backup.close()


def _rehearsal(args, rehearsal) -> int:
    import types

    import yaml

    from installer import rehearse
    from installer.demo import DemoError
    from installer.restore import plan as restore_plan
    from installer.restore import put_secrets_back, run_options

    backup = rehearsal.backup
    out = sys.stderr if args.json else sys.stdout
    folder = Path(args.runs_dir) / "rehearse" / backup.cluster
    runs = folder / "runs"
    started = time.monotonic()
    times: dict[str, float] = {}
    print(f"Rehearse a restore of cluster {backup.cluster} from {backup.path.name} (taken {backup.created}): "
          "nothing of the cluster itself is touched\n"
          f"  throwaway containers {rehearsal.prefix}-<host> of the archive's hosts, on the internal network "
          f"{rehearsal.subnet} (no route out); the archive's config.cfg with their addresses, the SSH login, the "
          f"VIP, the bundle and the hardware floors of the precheck changed: {_shown_path(folder / 'config.cfg')}\n"
          "  then: install (every phase), restore, verify, what came back; the containers are removed after"
          + (" (kept: --keep)" if args.keep else " (--keep keeps them)"), file=out, flush=True)
    try:
        try:
            config, nodes = rehearse.prepare(rehearsal, folder, out)
            cfg = rehearse.load(config)
        except (rehearse.RehearsalError, DemoError) as exc:
            _err(f"restore --rehearse: {exc}")
            return EXIT_FAILED
        times["containers"] = time.monotonic() - started
        for path in put_secrets_back(cfg, backup, runs)[0]:
            print(f"  the archive's secrets: {_shown_path(path)}", file=out, flush=True)
        shown = types.SimpleNamespace(json=args.json, config=str(config))
        phases = [p.name for p in select(None, [], None) if p.configured(cfg)]
        for step, options in (("install", RunOptions(phases=phases, verbosity=args.verbose, runs_dir=runs,
                                                     rehearsal=True)),
                              ("restore", run_options(backup, verbosity=args.verbose, runs_dir=runs,
                                                      rehearsal=True))):
            if step == "restore":
                print(restore_plan(cfg, backup, backup.path.stat().st_size), file=out, flush=True)
            begun = time.monotonic()
            run = _start(cfg, options)
            code = EXIT_BAD_INPUT if run is None else follow(run, shown)
            times[step] = time.monotonic() - begun
            if code != 0:
                _err(f"restore --rehearse: the {step} of the rehearsal's cluster FAILED (exit {code})"
                     + (": this archive did not bring its cluster back" if step == "restore" else "")
                     + f"; its runs are in {_shown_path(runs)}"
                     + ("" if args.keep else "; run again with --keep to look into the hosts"))
                return code
        secrets = yaml.safe_load((runs / "secrets" / f"{cfg.cluster.name}.yml").read_text()) or {}
        return _came_back(cfg, backup, nodes, secrets, times, time.monotonic() - started, out)
    finally:
        if not args.keep:
            try:
                rehearse.remove(rehearsal)
            except DemoError as exc:
                _err(f"the rehearsal's containers were not all removed ({exc}): docker rm -f them by the label "
                     f"{rehearse.LABEL}")
            # The copies of the archive's secrets (the archive keeps them).
            shutil.rmtree(runs / "secrets", ignore_errors=True)
            shutil.rmtree(runs / "state", ignore_errors=True)


def _came_back(cfg, backup, nodes, secrets: dict, times: dict[str, float], total: float, out) -> int:
    """What the restore brought back into the rehearsal's cluster; 0 when every database of the
    archive is there and Marathon answers."""
    from installer.rehearse import database_rows, marathon_apps

    problems: list[str] = []
    lines: list[str] = []
    apps = marathon_apps(cfg, nodes, secrets)
    if apps is None:
        problems.append("Marathon did not answer on any master")
    else:
        lines.append(f"  Marathon: {len(apps)} app{'s' if len(apps) != 1 else ''}" + (f": {', '.join(apps)}"
                                                                                    if apps else ""))
    if cfg.mysql is not None and backup.databases:
        master = next((n for n in nodes if n.ip == str(cfg.mysql_master.ip)), None)
        for database in backup.databases:
            rows = database_rows(master, database) if master is not None else None
            if rows is None:
                problems.append(f"MySQL: database {database} of the archive is not on the master")
                continue
            tables = ", ".join(f"{t} {n} row{'s' if n != 1 else ''}" for t, n in rows.items()) or "no table"
            lines.append(f"  MySQL {database}: {tables}")
    elif cfg.mysql is not None:
        lines.append("  MySQL: the archive has no database of yours")
    spent = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in times.items())
    verdict = "FAILED" if problems else "PASSED"
    print(f"Rehearsal of cluster {backup.cluster} from {backup.path.name} (taken {backup.created}): {verdict} in "
          f"{total:.0f} s ({spent}); verify passed on the restored cluster. What came back:", file=out, flush=True)
    for line in lines + [f"  {p}" for p in problems]:
        print(line, file=out, flush=True)
    return EXIT_FAILED if problems else 0


def _open_backup(args):
    """The archive opened and checked whole, or None with why (said)."""
    from installer.restore import BadArchive, open_backup

    try:
        return open_backup(args.archive)
    except BadArchive as exc:
        _err(str(exc))
        return None


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _print_errors(config: str, errors) -> None:
    print(f"{config}: {len(errors)} error{'s' if len(errors) != 1 else ''}; nothing was changed", file=sys.stderr)
    for error in errors:
        print(f"  {error}", file=sys.stderr)


def _validate(config: str, as_json: bool) -> int:
    """--validate: the whole validation of config.cfg and nothing else (no host, no runs/)."""
    errors = validate(Path(config))
    if as_json:
        print(json.dumps({"valid": not errors, "errors": [e.public() for e in errors]}, indent=2))
    elif errors:
        _print_errors(config, errors)
    else:
        print(f"{config}: valid")
    return EXIT_BAD_INPUT if errors else 0


def _demo(args) -> int | None:
    """Make (or reuse) the demo cluster and point args at its config; an exit code when done."""
    from installer import demo

    if not (demo.TOP / "demo" / "node").is_dir():
        _err("--demo builds containers and a bundle from a Debian mirror: it needs a checkout of the installer's "
             "repository, not a release (a release installs the cluster of a config.cfg, offline)")
        return EXIT_BAD_INPUT
    cluster = demo.DemoCluster(agents=args.agents)
    folder = args.runs_dir / "demo"
    try:
        if args.destroy:
            if shutil.which("docker"):
                cluster.destroy()
            demo.forget_host_keys(cluster, args.runs_dir)
            print(f"demo cluster removed (containers {cluster.prefix}-*, network {cluster.network}); "
                  f"its config, key and bundle stay in {folder}")
            return 0
        print("demo: Docker and the node image (demo/node/), the bundle with the stand-in Mesos and Marathon, "
              f"{len(cluster.nodes)} containers on the internal network {cluster.subnet}", flush=True)
        demo.ensure_testbed()
        args.config = str(demo.prepare(cluster, folder.resolve(), reuse=True, runs_dir=args.runs_dir))
    except demo.DemoError as exc:
        _err(f"--demo: {exc}")
        return EXIT_FAILED
    print(f"demo: config {args.config}; log in to a host: ssh -i {folder / 'id_ed25519'} {demo.SSH_USER}@<ip>; "
          "remove it all: ./install.sh --demo --destroy", flush=True)
    args.yes = True
    return None


def _display(args):
    from installer.progress import JsonDisplay, LiveDisplay, PlainDisplay

    if args.json:
        return JsonDisplay()
    if sys.stdout.isatty():
        return LiveDisplay()
    return PlainDisplay()


def follow(run: Run, args) -> int:
    display = _display(args)
    events = run.events()
    with display:
        while True:
            try:
                for ev in events:
                    display.handle(ev)
                break
            except KeyboardInterrupt:
                if run.cancelled:
                    continue  # already stopping; wait for the runner to finish
                run.cancel()
                print("\ninterrupted: stopping the running phase (ansible-playbook is being terminated)…",
                      file=sys.stderr)
    code = run.wait()
    if run.options.precheck_only and code in (0, EXIT_PRECHECK):
        return code  # the report was the output
    display.summary(run, args.config)
    return code
