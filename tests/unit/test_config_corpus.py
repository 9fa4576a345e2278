"""Every file in bad_configs/ is refused with exit 2, and the message names the section, the
key and the line. Each file says what it breaks in its first comment lines:

    # expect: <text of the message>
    # expect-section: <section named>      (then the line is checked too)
    # expect-key: <key named>
    # forbid: <text that must not appear>  (a secret: never echoed; any number of these)

The files they name (keys, certificates, look-alikes) are in bad_configs/files/."""

import re
from pathlib import Path

import pytest

from installer.cli import main

CORPUS = sorted((Path(__file__).parent / "bad_configs").glob("*.cfg"))


def _expectations(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^# expect(?:-(section|key))?: (.*)$", line)
        if m:
            found[m.group(1) or "text"] = m.group(2)
    return found


def _forbidden(path: Path) -> list[str]:
    return [m.group(1) for line in path.read_text().splitlines() if (m := re.match(r"^# forbid: (.*)$", line))]


def _expected_lines(path: Path, section: str, key: str | None) -> set[int]:
    """Lines an operator may be sent to: the key's (last) line; without a key, any line of the
    (last) section of that name; none when the section is missing from the file."""
    current, section_lines, key_line = None, [], None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        header = re.match(r"^\[(.*)\]\s*$", line)
        if header:
            current = header.group(1)
            if current == section:
                section_lines = [number]
            continue
        if current == section:
            section_lines.append(number)
            if key and re.match(rf"^{re.escape(key)}\s*(=|$)", line):
                key_line = number
    if key_line:
        return {key_line}
    return set(section_lines) if key is None else set(section_lines[:1])


def test_the_corpus_has_at_least_120_bad_files():
    assert len(CORPUS) >= 120


def test_every_corpus_file_says_what_it_expects():
    assert [p.name for p in CORPUS if "text" not in _expectations(p)] == []


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_bad_config_is_refused_with_exit_2_naming_key_and_line(path, capsys):
    expect = _expectations(path)
    assert main([str(path)]) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert expect["text"] in err, err
    assert "nothing was changed" in err
    for text in _forbidden(path):  # a secret of the file is never echoed, in any form
        assert text not in captured.err + captured.out, f"{text!r} echoed:\n{err}"
        assert text.lower() not in (captured.err + captured.out).lower(), f"{text!r} echoed:\n{err}"
    if "section" in expect:
        named = f"[{expect['section']}] {expect['key']}" if "key" in expect else f"[{expect['section']}]"
        assert named in err, err
        lines = _expected_lines(path, expect["section"], expect.get("key"))
        if lines:
            assert any(f"{path.name}:{line}: " in err for line in lines), f"expected one of lines {lines}:\n{err}"
        else:  # a section missing from the file has no line to point at
            assert f"{path.name}: [{expect['section']}]" in err, err
    else:
        assert re.search(rf"{re.escape(path.name)}:\d+: ", err), err
