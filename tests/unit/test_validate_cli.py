"""./install.sh config.cfg --validate [--json] and installer.api.validate(path): the whole
validation, no host contacted, nothing written (not even runs/)."""

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from installer import api
from installer.cli import main

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "config.cfg.example"
CORPUS = Path(__file__).parent / "bad_configs"


def _tree(folder: Path) -> dict[str, int]:
    """Every path under folder with its mtime (ns): what a write would change."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


@pytest.fixture
def site(tmp_path):
    """A copy of the example in a folder of its own."""
    folder = tmp_path / "site"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "config.cfg")
    return folder


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to reach a host, or to run a program (ssh, ansible), fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"validation tried to reach out: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)


def test_a_valid_config_is_exit_0_and_says_so(site, capsys, no_network):
    config = site / "config.cfg"
    assert main([str(config), "--validate"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == f"{config}: valid"
    assert out.err == ""


def test_an_invalid_config_is_exit_2_with_every_error(site, capsys, no_network):
    config = site / "config.cfg"
    config.write_text(config.read_text().replace("ssh_port = 22", "ssh_port = 0").replace("become = true",
                                                                                          "become = perhaps"))
    assert main([str(config), "--validate"]) == 2
    err = capsys.readouterr().err
    assert "2 errors; nothing was changed" in err
    assert "[cluster] ssh_port = 0" in err and "[cluster] become = perhaps" in err


def test_json_is_one_document_of_the_errors(site, capsys, no_network):
    config = site / "config.cfg"
    config.write_text(config.read_text().replace("ssh_port = 22", "ssh_port = 0")
                      .replace("root_password =", "root_password = Corpus$Secret-123"))
    assert main([str(config), "--validate", "--json"]) == 2
    out = capsys.readouterr()
    document = json.loads(out.out)  # one JSON document, nothing else on stdout
    assert document["valid"] is False
    assert len(document["errors"]) == 2
    for error in document["errors"]:
        assert set(error) == {"file", "line", "section", "key", "value", "message", "hint"}
        assert error["file"].endswith("config.cfg") and isinstance(error["line"], int)
    port = next(e for e in document["errors"] if e["key"] == "ssh_port")
    assert (port["section"], port["value"]) == ("cluster", "0")
    assert "from 1 to 65535" in port["message"]
    password = next(e for e in document["errors"] if e["key"] == "root_password")
    assert password["value"] == "(hidden)"
    assert "Secret-123" not in out.out + out.err


def test_json_of_a_valid_config(site, capsys):
    assert main([str(site / "config.cfg"), "--validate", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"valid": True, "errors": []}


def test_json_of_a_file_that_is_not_there(tmp_path, capsys):
    assert main([str(tmp_path / "nope.cfg"), "--validate", "--json"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document["valid"] is False and "no such file" in document["errors"][0]["message"]


@pytest.mark.parametrize("valid", [True, False])
def test_validate_writes_nothing_anywhere(site, tmp_path, valid, capsys, no_network):
    config = site / "config.cfg"
    if not valid:
        config.write_text(config.read_text().replace("ssh_port = 22", "ssh_port = 0"))
    runs = tmp_path / "runs"
    before_site, before_repo_runs = _tree(site), _tree(TOP / "runs")
    assert main([str(config), "--validate", "--runs-dir", str(runs)]) == (0 if valid else 2)
    assert main([str(config), "--validate", "--json"]) == (0 if valid else 2)
    assert (api.validate(config) == []) is valid
    assert not runs.exists()
    assert _tree(site) == before_site
    assert _tree(TOP / "runs") == before_repo_runs


def test_validate_does_not_go_with_demo(capsys):
    assert main(["--demo", "--validate"]) == 2
    assert "--validate" in capsys.readouterr().err


def test_the_api_returns_the_errors_as_the_cli_shows_them(site, capsys, no_network):
    config = site / "config.cfg"
    assert api.validate(str(config)) == []
    config.write_text(config.read_text().replace("password =\n", "password = short\n", 1))
    errors = api.validate(config)
    assert [(e["section"], e["key"], e["value"]) for e in errors] == [("registry", "password", "(hidden)")]
    assert main([str(config), "--validate", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["errors"] == errors


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.cfg"))[::9], ids=lambda p: p.stem)
def test_every_bad_config_is_invalid_through_the_api_and_json(path, capsys):
    errors = api.validate(path)
    assert errors
    assert main([str(path), "--validate", "--json"]) == 2
    out = capsys.readouterr().out
    assert json.loads(out) == {"valid": False, "errors": errors}
