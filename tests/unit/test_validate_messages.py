"""What the errors of config.cfg show: never a secret (whatever key or section it hides in),
IPv6 refused in words, other file formats and line endings named, long values cut, control
characters escaped; the text and the JSON form say the same."""

import json
from pathlib import Path

import pytest

from installer.cli import main
from installer.config import ConfigError, validate
from installer.config.redact import HIDDEN, SECRET_KEYS, is_secret_key, looks_like_secret

MINIMAL = """[cluster]
name = t
ssh_user = ops

[installer]
10.1.0.5

[masters]
m1 = 10.1.0.11

[agents]
a1 = 10.1.0.21
"""


def _with(text: str, section: str, line: str) -> str:
    """MINIMAL with line added to section (the section added when missing)."""
    if f"[{section}]\n" in text:
        return text.replace(f"[{section}]\n", f"[{section}]\n{line}\n", 1)
    return f"{text}\n[{section}]\n{line}\n"


def _run(tmp_path: Path, text: str, capsys) -> tuple[str, dict]:
    """Everything the operator and a portal see of the errors: the text and the JSON."""
    path = tmp_path / "config.cfg"
    path.write_text(text, newline="")
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert main([str(path), "--validate", "--json"]) == 2
    return err, json.loads(capsys.readouterr().out)


SECRET = "Corpus$ecret!2024xyz"


@pytest.mark.parametrize("section,line", [
    # every secret key of the schema, with a value it refuses
    *[(section, f"{key} = {SECRET}") for section, key in sorted(SECRET_KEYS)],
    # misspelt, or in the wrong section
    ("mysql", f"root_pasword = {SECRET}"),
    ("mysql", f"root_passwd = {SECRET}"),
    ("mysql", f"root_pw = {SECRET}"),
    ("marathon", f"pasword = {SECRET}"),
    ("haproxy", f"stats_pass = {SECRET}"),
    ("cluster", f"password = {SECRET}"),
    ("cluster", f"secret = {SECRET}"),
    ("consul", f"token = {SECRET}"),
    ("consul", f"gosip_key = {SECRET}"),
    ("registry", f"gossip_key = {SECRET}"),
    ("zookeeper", f"auth_pass = {SECRET}"),
    ("keepalived", f"api_key = {SECRET}"),
    ("cluster", f"vault = {SECRET}"),  # an unknown key: the value itself looks like a secret
    # a section that does not exist
    ("credentials", f"mysql = {SECRET}"),
    # pasted where a name belongs
    ("marathon", f"username = {SECRET}"),
    ("cluster", f"ssh_user = {SECRET}"),
    # pasted into a host section: alone, as an address, after the address, under a secret key
    ("agents", SECRET),
    ("agents", f"a2 = {SECRET}"),
    ("agents", f"a2 = 10.1.0.22 {SECRET}"),
    ("masters", f"password = {SECRET}"),
])
def test_a_secret_is_never_echoed(tmp_path, capsys, section, line):
    err, document = _run(tmp_path, _with(MINIMAL, section, line), capsys)
    shown = err + json.dumps(document)
    for fragment in (SECRET, SECRET.lower(), "ecret!2024", "Corpus$"):
        assert fragment not in shown, err


def test_a_secret_pasted_into_a_host_section_hides_key_and_value(tmp_path, capsys):
    err, document = _run(tmp_path, _with(MINIMAL, "agents", "Xk9#mQ2$vL7!pR = 10.1.0.22"), capsys)
    assert "[agents] (hidden)" in err
    (error,) = document["errors"]
    assert (error["section"], error["key"]) == ("agents", HIDDEN)
    assert "xk9#mq2" not in err.lower()


def test_an_indented_secret_line_is_hidden(tmp_path, capsys):
    text = MINIMAL.replace("ssh_user = ops\n", "ssh_user = ops\n  root_password = Corpus-Indent-Secret9\n")
    err, _ = _run(tmp_path, text, capsys)
    assert "indented line" in err and "Corpus-Indent-Secret9" not in err


def test_a_password_message_says_what_is_allowed_but_not_which_character(tmp_path, capsys):
    err, _ = _run(tmp_path, _with(MINIMAL, "registry", "password = Abcdef#123456"), capsys)
    assert "letters, digits and . _ + = ~ ^ * ? ! -" in err
    assert "Abcdef" not in err and "[registry] password = (hidden)" in err


def test_names_that_are_no_secrets_are_shown():
    assert not looks_like_secret("agent_1") and not looks_like_secret("10.0.0.5")
    assert not looks_like_secret("rack:r1;zone:a") and not looks_like_secret("/var/lib/zookeeper")
    assert not looks_like_secret("ip-10-0-0-21", loose=True) and not looks_like_secret("master1", loose=True)
    for section, key in (("cluster", "ssh_key_file"), ("haproxy", "stats_user"), ("registry", "username"),
                         ("registry", "tls_key"), ("cluster", "name")):
        assert not is_secret_key(section, key), (section, key)


@pytest.mark.parametrize("section,line", [
    ("masters", "m2 = 2001:db8::12"),
    ("agents", "2001:db8::21"),
    ("agents", "fe80::1%eth0"),
    ("agents", "::1"),
    ("agents", "[2001:db8::5]"),
    ("agents", "a2 = 10.1.0.22 ssh=fd00::22"),
    ("keepalived", "vip = fd00::100/64"),
    ("ntp", "upstream = 0.pool.ntp.org, 2001:db8::123"),
    ("cluster", "admin_networks = 10.0.0.0/24, fd00::/8"),
    ("registry", "hostname = fd00::5"),
    ("keepalived", "interface = fe80::1"),
    ("precheck", "waive = disk_space@2001:db8::21"),
    ("cluster", "domain = 2001:db8::1"),
])
def test_ipv6_is_refused_in_words_wherever_it_is_given(tmp_path, capsys, section, line):
    text = _with(MINIMAL, section, line)
    if section == "keepalived":
        text = _with(text, "lb", "m1\na1")
    err, document = _run(tmp_path, text, capsys)
    assert "IPv6 is not supported" in err, err
    assert any("IPv6 is not supported" in e["message"] for e in document["errors"])


def test_mysql_hosts_given_by_ipv6(tmp_path, capsys):
    text = MINIMAL.replace("a1 = 10.1.0.21", "a1 = 10.1.0.21\na2 = 10.1.0.22") + \
        "\n[mysql]\nmaster = 2001:db8::21\nslave = a2\n"
    err, _ = _run(tmp_path, text, capsys)
    assert "[mysql] master = 2001:db8::21: IPv6 is not supported" in err


@pytest.mark.parametrize("text,kind", [
    ("cluster:\n  name: t\nmasters:\n  - 10.1.0.11\n", "YAML"),
    ("---\ncluster: {name: t}\n", "YAML"),
    ('{"cluster": {"name": "t"}, "masters": ["10.1.0.11"]}\n', "JSON"),
    ('# exported\n[\n  {"cluster": "t"}\n]\n', "JSON"),
])
def test_a_yaml_or_json_config_is_called_what_it_is(tmp_path, capsys, text, kind):
    err, _ = _run(tmp_path, text, capsys)
    assert f"is a {kind} file, not an INI file: config.cfg is INI" in err and "config.cfg.example" in err


def test_old_mac_line_endings_are_named_with_the_fix(tmp_path, capsys):
    err, _ = _run(tmp_path, MINIMAL.replace("\n", "\r"), capsys)
    assert "CR-only line endings (old Mac)" in err and "sed -i" in err


def test_windows_line_endings_are_fine(tmp_path, capsys):
    path = tmp_path / "config.cfg"
    path.write_text(MINIMAL.replace("\n", "\r\n"), newline="")
    assert validate(path) == []


def test_a_stray_carriage_return_is_named(tmp_path, capsys):
    err, _ = _run(tmp_path, MINIMAL.replace("ssh_user = ops\n", "ssh_user = ops\rbecome = true\n"), capsys)
    assert "carriage return (CR) inside a line" in err and "config.cfg:3:" in err


def test_a_folder_is_named_as_a_folder(tmp_path, capsys):
    folder = tmp_path / "config.cfg"
    folder.mkdir()
    assert main([str(folder), "--validate"]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_long_value_is_cut_at_200_characters_saying_how_long_it_was(tmp_path, capsys):
    err, document = _run(tmp_path, MINIMAL.replace("ssh_user = ops", "ssh_user = " + "x" * 250 + "Z"), capsys)
    assert "x" * 200 + "..." in err and "x" * 201 not in err and "Z" not in err.split("ssh_user = ")[1][:300]
    assert "(251 characters, the first 200 shown)" in err
    assert document["errors"][0]["value"].startswith("x" * 200 + "...")


@pytest.mark.parametrize("raw,escaped", [
    ("t\x07x", "t\\x07x"),
    ("t\x1b[31mx", "t\\x1b[31mx"),
    ("t\u200bx", "t\\u200bx"),
    ("t\tx", "t\\tx"),
])
def test_control_characters_are_shown_escaped(tmp_path, capsys, raw, escaped):
    err, document = _run(tmp_path, MINIMAL.replace("name = t", f"name = {raw}"), capsys)
    assert f"[cluster] name = {escaped}: expected a name" in err
    assert raw not in err
    assert document["errors"][0]["value"] == escaped


def test_the_text_and_the_json_say_the_same():
    error = ConfigError(Path("c.cfg"), "bad", 3, "mysql", "root_password", "Sup3r$ecret", "a hint")
    public = error.public()
    assert public == {"file": "c.cfg", "line": 3, "section": "mysql", "key": "root_password", "value": HIDDEN,
                      "message": "bad", "hint": "a hint"}
    assert str(error) == "c.cfg:3: [mysql] root_password = (hidden): bad (a hint)"


def test_a_hidden_value_is_scrubbed_from_message_and_hint_too():
    error = ConfigError(Path("c.cfg"), "got 'Sup3r$ecret'", 3, "mysql", "root_password", "Sup3r$ecret",
                        "not Sup3r$ecret")
    assert "Sup3r" not in str(error) and "Sup3r" not in json.dumps(error.public())


def test_a_device_is_not_a_config(capsys):
    assert main(["/dev/zero", "--validate"]) == 2  # and returns: a device is never read
    assert "is not a regular file" in capsys.readouterr().err


def test_a_rule_that_fails_is_named_without_its_exception_text(tmp_path, monkeypatch):
    from installer.config import rules

    def broken(cfg):
        raise RuntimeError("Sup3r$ecret leaked in an exception")

    monkeypatch.setattr(rules, "RULES", [*rules.RULES, broken])
    monkeypatch.setattr("installer.config.RULES", rules.RULES)
    path = tmp_path / "config.cfg"
    path.write_text(MINIMAL)
    (error,) = validate(path)
    assert "could not be checked by rule broken (RuntimeError)" in str(error) and "Sup3r" not in str(error)


def test_a_service_on_the_ssh_port_is_said_at_both_keys(tmp_path, capsys):
    text = MINIMAL.replace("ssh_user = ops", "ssh_user = ops\nssh_port = 8080") + "\n[marathon]\nport = 8080\n"
    err, document = _run(tmp_path, text, capsys)
    keys = {(e["section"], e["key"]) for e in document["errors"]}
    assert keys == {("cluster", "ssh_port"), ("marathon", "port")}
    assert "[marathon] port = 8080: port 8080 is [cluster] ssh_port" in err
    assert "[cluster] ssh_port = 8080: port 8080 is also [marathon] port" in err


@pytest.mark.parametrize("line", ["Password2024abc", "Xk9mQ2vL7pR4sT", "Corpus!Secret#1 = 10.1.0.22"])
def test_a_password_alone_in_a_host_section_is_hidden_even_when_it_could_be_a_name(tmp_path, capsys, line):
    err, document = _run(tmp_path, _with(MINIMAL, "agents", line), capsys)
    secret = line.split(" =")[0]
    assert secret not in err and secret.lower() not in err.lower(), err
    assert document["errors"][0]["key"] == HIDDEN


def test_a_misspelt_host_name_is_shown(tmp_path, capsys):
    err, _ = _run(tmp_path, _with(MINIMAL, "agents", "agnet1"), capsys)
    assert "[agents] agnet1: host has no IP" in err


@pytest.mark.parametrize("text", [MINIMAL + "\n[Corpus!Secret#1]\nx = 1\n", _with(MINIMAL, "mysql", "secret!pass")])
def test_a_password_written_as_a_section_or_a_bare_word_is_hidden(tmp_path, capsys, text):
    err, _ = _run(tmp_path, text, capsys)
    assert "(hidden)" in err
    assert "corpus!secret" not in err.lower() and "secret!pass" not in err
