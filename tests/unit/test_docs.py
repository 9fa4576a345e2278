"""The operator docs list what the code does: every precheck check, every port of the table."""

from pathlib import Path

from installer.catalogue import CATALOGUE
from precheck import checks  # noqa: F401 - registers the checks
from precheck.registry import CHECKS

TOP = Path(__file__).resolve().parents[2]


def test_every_check_is_documented():
    text = (TOP / "docs" / "precheck.md").read_text()
    missing = [c.name for c in CHECKS if f"`{c.name}`" not in text]
    assert not missing, f"docs/precheck.md lacks {missing}"


def test_every_port_of_the_table_is_documented():
    text = (TOP / "docs" / "precheck.md").read_text()
    for port in (p for c in CATALOGUE for p in c.ports):
        if port.key is None:
            assert f"{port.number}/{port.proto}" in text, port.label
        else:
            assert f"| {port.label} | `[{port.section}] {port.key}` |" in text, port.label
