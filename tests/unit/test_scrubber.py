"""The last guard before a record is written: every secret value, and the HTTP Basic form of
each user:password pair, is masked in every string of an event (keys included, nested data,
in place for ansible-runner's own job_events file); partial event files a killed run left
behind are removed; the config copy redacts every key that holds, or looks like it holds, a
secret."""

import base64
from pathlib import Path

from installer.config import load_config
from installer.rundir import purge_partial_events, redacted_config
from installer.secrets import Scrubber, ensure_secrets, is_secret_key, scrubber_for

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "config.cfg.example"


def test_every_secret_and_its_basic_header_is_masked_everywhere_in_an_event():
    basic = base64.b64encode(b"admin:s3cret-Value-1").decode()
    scrub = Scrubber(["s3cret-Value-1", "tok-0000-1111"], [("admin", "s3cret-Value-1")])
    event = {
        "stdout": "login admin:s3cret-Value-1 ok",
        "event_data": {"res": {"invocation": {"module_args": {"headers": {"X-Consul-Token": "tok-0000-1111"}}},
                               "msg": f"Authorization: Basic {basic}"},
                       "items": ["a", "tok-0000-1111-suffix", ("tuple", "s3cret-Value-1")],
                       "tok-0000-1111": "as a key"},
        "counter": 7,
    }
    same = scrub.in_place(event)
    assert same is event  # the very dict ansible-runner writes
    text = repr(event)
    assert "s3cret-Value-1" not in text and "tok-0000-1111" not in text and basic not in text
    assert event["stdout"] == "login admin:******** ok" and event["counter"] == 7
    assert "********" in event["event_data"]


def test_a_secret_that_holds_another_is_masked_whole():
    scrub = Scrubber(["abcdef", "abcdefghij"])
    assert scrub.text("x abcdefghij y") == "x ******** y"


def test_the_scrubber_of_a_run_knows_every_stored_and_given_secret(tmp_path):
    config = tmp_path / "config.cfg"
    config.write_text(EXAMPLE.read_text().replace("stats_password =", "stats_password = Given-Stats-Secret-9"))
    cfg = load_config(config)
    path, values = ensure_secrets(cfg, tmp_path)
    path.write_text(path.read_text() + "old_secret_no_longer_needed: Old-Stored-Secret-7\n")
    scrub = scrubber_for(cfg, values, path)
    text = " ".join([*values.values(), "Old-Stored-Secret-7", "Given-Stats-Secret-9"])
    assert set(scrub.text(text).split()) == {"********"}
    marathon = base64.b64encode(f"admin:{values['marathon_password']}".encode()).decode()
    assert scrub.text(marathon) == "********"


def test_partial_event_files_of_a_killed_run_are_removed(tmp_path):
    events = tmp_path / "20260101-000000-demo" / "artifacts" / "05-hosts" / "job_events"
    events.mkdir(parents=True)
    (events / "1-abc.json").write_text("{}")
    (events / "abc-partial.json").write_text('{"res": "a secret before scrubbing"}')
    assert purge_partial_events(tmp_path) == 1
    assert [p.name for p in events.iterdir()] == ["1-abc.json"]


def test_the_config_copy_redacts_secret_keys_misspelt_ones_too(tmp_path):
    text = EXAMPLE.read_text()
    text = text.replace("root_password =", "root_password = Given-Root-Secret-1")
    text = text.replace("[mysql]\n", "[mysql]\n# a misspelt key would not validate, but the copy is safe anyway\n", 1)
    config = tmp_path / "config.cfg"
    config.write_text(text)
    copy = redacted_config(load_config(config))
    assert "Given-Root-Secret-1" not in copy and "root_password = (redacted)" in copy
    assert is_secret_key("mysql", "root_pasword") and is_secret_key("cluster", "token")
    assert not is_secret_key("cluster", "ssh_key_file") and not is_secret_key("marathon", "username")
