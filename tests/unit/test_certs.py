"""Certificate expiry: which certificates the installer knows (installer/certs.py), the
precheck's verdict on each (WARN under 30 days, FAIL expired unless this run issues it again),
renew-certs' plan and refusals. The renewal itself (the roles issuing again, the registry
restarting, pulls after) is in the e2e cluster test."""

import datetime as dt
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from installer.certs import certificates, pki_dir, render_plan
from installer.cli import main
from installer.config import load_config
from installer.precheck.checks.certs import certificates as check
from installer.precheck.model import Context, HostObservation, Status

TOP = Path(__file__).resolve().parents[2]
NOW = dt.datetime.now(dt.UTC)


def _cert(path: Path, days: float) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, path.stem)])
    not_after = NOW + dt.timedelta(days=days)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(min(NOW, not_after) - dt.timedelta(days=1))
            .not_valid_after(not_after).sign(key, hashes.SHA256()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(Encoding.PEM))


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    shutil.copy(TOP / "config.cfg.example", folder / "config.cfg")
    cfg = load_config(folder / "config.cfg")
    return cfg, folder / "config.cfg", tmp_path / "runs"


def _verdicts(cfg, runs, phases=()):
    obs = HostObservation(host=cfg.installer, groups=["installer"])
    ctx = Context(cfg=cfg, hosts={cfg.installer.id: obs}, certificates=certificates(cfg, runs), phases=tuple(phases))
    return {r.message.split(" (")[0]: r for r in check(obs, ctx)}


def test_before_the_first_install_there_is_nothing_to_check(site):
    cfg, _, runs = site
    assert certificates(cfg, runs) == []
    (result,) = _verdicts(cfg, runs).values()
    assert result.status == Status.PASS and "no certificate made yet" in result.message


def test_expiry_is_pass_warn_or_fail_by_days_left_and_by_who_renews(site):
    cfg, _, runs = site
    pki = pki_dir(cfg, runs)
    _cert(pki / "ca.crt", 3000)
    _cert(pki / "registry.crt", 10)
    _cert(pki / "vip.crt", -2)
    found = {c.label: c for c in certificates(cfg, runs)}
    assert [found[k].renewed_by for k in ("the cluster CA", "the registry's certificate")] == [None, "registry"]
    has_lb = bool(cfg.group("lb"))
    verdicts = _verdicts(cfg, runs)
    assert verdicts["the cluster CA"].status == Status.PASS
    registry = verdicts["the registry's certificate"]
    assert registry.status == Status.WARN and "expires in 9 days" in registry.message
    assert "renew-certs" in registry.fix
    if has_lb:
        vip = verdicts["the VIP's HTTPS certificate"]
        assert vip.status == Status.FAIL and "expired on" in vip.message
        # A run that goes on to the lb phase issues it again: a warning, not a stop.
        during = _verdicts(cfg, runs, phases=("lb", "verify"))["the VIP's HTTPS certificate"]
        assert during.status == Status.WARN and "this run's lb phase issues it again" in during.fix


def test_an_expired_ca_or_an_unreadable_file_fails(site):
    cfg, _, runs = site
    pki = pki_dir(cfg, runs)
    _cert(pki / "ca.crt", -1)
    (pki / "registry.crt").write_text("not a certificate\n")
    verdicts = _verdicts(cfg, runs, phases=("registry",))
    assert verdicts["the cluster CA"].status == Status.FAIL and "not renewed by the installer" in \
        verdicts["the cluster CA"].fix
    broken = next(r for k, r in verdicts.items() if k.startswith("the registry's certificate"))
    assert broken.status == Status.FAIL and "is no PEM certificate" in broken.message


def test_the_plan_says_what_happens_to_each(site):
    cfg, _, runs = site
    pki = pki_dir(cfg, runs)
    _cert(pki / "ca.crt", 3000)
    _cert(pki / "registry.crt", 5)
    text = render_plan(cfg, certificates(cfg, runs), ["registry", "lb", "verify"])
    assert "the cluster CA (ca.crt): valid until" in text and "kept: a new CA" in text
    assert "the registry's certificate (registry.crt): valid until" in text and "the registry restarts" in text
    assert text.endswith("Phases: registry, lb, verify (the precheck first, as for any run)")


@pytest.mark.parametrize(("args", "message"), [
    (["renew-certs", "--yes"], "nothing to renew"),
    (["renew-certs", "--hosts", "master1"], "--hosts: not with renew-certs"),
    (["renew-certs", "--limit", "master1"], "--limit: not with renew-certs"),
])
def test_renew_certs_refuses_before_any_host(site, capsys, args, message):
    _, config, runs = site
    assert main([str(config), *args, "--runs-dir", str(runs)]) == 2
    assert message in capsys.readouterr().err
    assert not runs.exists()


def test_renew_certs_asks_first(site, capsys):
    cfg, config, runs = site
    _cert(pki_dir(cfg, runs) / "registry.crt", 5)
    assert main([str(config), "renew-certs", "--runs-dir", str(runs)]) == 2  # stdin is no terminal here
    captured = capsys.readouterr()
    assert "pass --yes" in captured.err and "the registry's certificate (registry.crt)" in captured.out
