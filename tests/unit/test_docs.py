"""The operator docs list what the code does: every precheck check, every port of the table."""

from pathlib import Path

from installer.catalogue import CATALOGUE
from installer.precheck import checks  # noqa: F401 - registers the checks
from installer.precheck.registry import CHECKS

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


def test_every_component_of_the_catalogue_is_in_the_architecture_table():
    text = (TOP / "docs" / "architecture.md").read_text()
    for component in CATALOGUE:
        units = " / ".join(dict.fromkeys(", ".join(u) for u in component.units.values()))
        assert f"| {component.name} | {component.role} |" in text, component.name
        row = next(line for line in text.splitlines() if line.startswith(f"| {component.name} | {component.role} |"))
        assert f"| {units} |" in row, (component.name, units)


def test_the_build_system_packages_every_module_of_the_installer():
    """pyproject.toml's build system finds every package of installer/ (a folder of modules
    left out of the package list would be missing from a built wheel) and takes the version
    from installer.__version__."""
    import tomllib
    from setuptools import find_packages

    import installer

    project = tomllib.loads((TOP / "pyproject.toml").read_text())
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"
    found = set(find_packages(str(TOP), include=project["tool"]["setuptools"]["packages"]["find"]["include"]))
    folders = {str(p.parent.relative_to(TOP)).replace("/", ".") for p in (TOP / "installer").rglob("*.py")}
    assert folders <= found, folders - found
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "installer.__version__"}
    assert installer.__version__
    module, _, func = project["project"]["scripts"]["dcos-installer"].partition(":")
    assert callable(getattr(__import__(module, fromlist=[func]), func))


def test_product_code_uses_nothing_of_the_test_tree():
    """The installer, the demo it ships, the playbooks and roles run without tests/: no import
    of a tests module and no path into tests/ (a comment citing a test is fine)."""
    import re

    USES_TESTS = r"\bfrom tests\b|\bimport tests\b|-m tests\.|[\"']tests\.|[\"'/]tests/|TOP / \"tests\""
    used = []
    for folder in ("installer", "demo", "playbooks", "roles", "scripts", "collections/ansible_collections/dcos"):
        for path in (TOP / folder).rglob("*"):
            if not path.is_file() or path.suffix not in (".py", ".sh", ".yml", ".j2", "") or "cache" in str(path):
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                code = line.split("#", 1)[0] if path.suffix in (".py", ".sh", ".yml", "") else line
                if re.search(USES_TESTS, code):
                    used.append(f"{path.relative_to(TOP)}:{number}: {line.strip()}")
    for name in ("install.sh",):
        text = (TOP / name).read_text()
        used += [f"{name}: {line}" for line in text.splitlines() if "tests/" in line.split("#", 1)[0]]
    assert used == []


def test_every_test_the_docs_name_exists():
    """docs/ and README name tests as evidence (docs/testing.md's table of claims): a renamed
    or removed test must take its name out of the docs too."""
    import re

    defined = set()
    for folder in ("tests", "molecule"):
        for path in (TOP / folder).rglob("*.py"):
            defined |= set(re.findall(r"^\s*def (test_\w+)", path.read_text(), re.M))
    named = {}
    for doc in [TOP / "README.md", *(TOP / "docs").rglob("*.md")]:
        for name in re.findall(r"`(?:[\w/.]+::)?(test_\w+)`", doc.read_text()):
            named.setdefault(name, doc.relative_to(TOP))
    missing = {name: str(doc) for name, doc in named.items() if name not in defined}
    assert named and not missing, missing
