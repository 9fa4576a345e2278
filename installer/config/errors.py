"""Errors an operator sees about config.cfg: each names the file, line, section, key, the
bad value, what was expected and, where it helps, what to do."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ConfigError:
    file: Path
    message: str
    line: int | None = None
    section: str | None = None
    key: str | None = None
    value: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        what = ""
        if self.section is not None:
            what = f"[{self.section}]"
            if self.key is not None:
                what += f" {self.key}"
                if self.value is not None:
                    what += f" = {self.value}"
            what += ": "
        text = f"{where}: {what}{self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class ConfigInvalid(Exception):
    """Raised with every error found, never only the first."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
