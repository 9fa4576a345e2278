"""Errors an operator sees about config.cfg: each names the file, line, section, key, the
bad value, what was expected and, where it helps, what to do.

What an error shows of a value follows installer.config.redact: a secret is (hidden), in
the message and the hint too; a long value is cut at 200 characters; control characters
are escaped. str(error) and error.public() (the JSON form) show the same."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installer.config.redact import HIDDEN, escape, hide_key_and_value, hide_section, scrub, shown


@dataclass(frozen=True)
class ConfigError:
    file: Path
    message: str
    line: int | None = None
    section: str | None = None
    key: str | None = None
    value: str | None = None
    hint: str | None = None
    # True: the value is a secret whatever its key says (the key is shown, the value never).
    secret: bool = False
    # True: the key itself may be a secret (pasted into a host section): key and value hidden.
    secret_key: bool = False

    def public(self) -> dict[str, Any]:
        """The error as it may be shown: {"file", "line", "section", "key", "value", "message", "hint"}."""
        hide_key, hide_value = hide_key_and_value(self.section, self.key, self.value)
        hide_key = hide_key or self.secret_key
        hide_value = hide_value or self.secret or hide_key
        hidden = [t for t in (self.value if hide_value else None, self.key if hide_key else None,
                              self.section if self.section and hide_section(self.section) else None) if t]
        section = self.section
        if section is not None and hide_key and (self.key is None or hide_section(section)):
            section = HIDDEN
        message, hint = scrub(self.message, hidden), scrub(self.hint, hidden)
        return {
            "file": str(self.file),
            "line": self.line,
            "section": None if section is None else shown(section),
            "key": None if self.key is None else (HIDDEN if hide_key else shown(self.key)),
            "value": None if self.value is None else (HIDDEN if hide_value else shown(self.value)),
            "message": escape(message),
            "hint": None if hint is None else escape(hint),
        }

    def __str__(self) -> str:
        public = self.public()
        where = f"{public['file']}:{self.line}" if self.line else public["file"]
        what, line = "", ""
        if public["section"] is not None:
            what = f"[{public['section']}]"
            if public["key"] is not None:
                what += f" {public['key']}"
            if public["value"] is not None:
                what += f" = {public['value']}" if public["key"] is not None else f" {public['value']}"
            what += ": "
        elif public["value"] is not None:
            line = f": {public['value']}"  # a line of the file that belongs to no section
        text = f"{where}: {what}{public['message']}{line}"
        if public["hint"]:
            text += f" ({public['hint']})"
        return text


class ConfigInvalid(Exception):
    """Raised with every error found, never only the first."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
