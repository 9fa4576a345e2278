"""The operator docs list what the code does: every precheck check, every port of the table."""

from pathlib import Path

from installer.ports import FIXED_PORTS, PORT_TABLE
from precheck import checks  # noqa: F401 - registers the checks
from precheck.registry import CHECKS

TOP = Path(__file__).resolve().parents[2]


def test_every_check_is_documented():
    text = (TOP / "docs" / "precheck.md").read_text()
    missing = [c.name for c in CHECKS if f"`{c.name}`" not in text]
    assert not missing, f"docs/precheck.md lacks {missing}"


def test_every_port_of_the_table_is_documented():
    text = (TOP / "docs" / "precheck.md").read_text()
    for uses in PORT_TABLE.values():
        for component, section, key, _, _ in uses:
            assert f"| {component} | `[{section}] {key}` |" in text, component
    for uses in FIXED_PORTS.values():
        for use in uses:
            assert f"{use.port}/{use.protocol}" in text
