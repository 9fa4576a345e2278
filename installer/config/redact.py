"""What an error message may show of a config value: never a secret, never more than 200
characters, never a raw control character.

A value is hidden when its key is a secret key of the schema (typed SecretStr), when the
key's name says it holds one (misspelt or in the wrong section: `pasword`, `root_pw`,
`token`, `gossip`...), or, where a secret may land by mistake (a host section, an unknown
key, a user name, a line that is no key), when the value itself looks like one.
installer.secrets re-exports SECRET_KEYS and is_secret_key: the run-folder copy of config.cfg
redacts by the same words."""

import difflib
import itertools
import re
import typing

from pydantic import SecretStr

from installer.config.schema import HOST_SECTIONS, SECTIONS
from installer.config.types import is_hostname, is_ipv6

HIDDEN = "(hidden)"
MAX_SHOWN = 200

# (section, key) of every config key that holds a secret: the fields typed SecretStr | None.
SECRET_KEYS = frozenset((section, key) for section, model in SECTIONS.items()
                        for key, field in model.model_fields.items()
                        if SecretStr in typing.get_args(field.annotation) or field.annotation is SecretStr)
_SECRET_NAMES = sorted({key for _, key in SECRET_KEYS})
# Key names that say "secret" even misspelt or in the wrong section.
_SECRET_WORDS = re.compile(r"pas+w|pas+(_|$)|passwd|pass|pwd|(^|_)pw($|_|d)|secret|token|cred|gossip|auth|private|"
                           r"encrypt|api_?key|access_?key|psk|passphrase|cookie|salt")
_NOT_SECRET = ("_file", "_user", "username", "_port")
# Keys whose values are names an operator may confuse with a password field.
_USER_KEYS = frozenset(("ssh_user", "username", "stats_user", "user"))


def is_secret_key(section: str, key: str) -> bool:
    """Whether the value of section/key must never be shown or copied: a secret key of the
    schema, or any key whose name says it holds one (a typo of a secret key included)."""
    if (section, key) in SECRET_KEYS:
        return True
    name = str(key).strip().lower()
    if not name or name.endswith(_NOT_SECRET):
        return False
    if (section, name) in _KNOWN_KEYS:
        return False  # a key of the schema that is no secret
    if _SECRET_WORDS.search(name):
        return True
    return bool(difflib.get_close_matches(name, _SECRET_NAMES, n=1, cutoff=0.8))


_KNOWN_KEYS = frozenset((section, key) for section, model in SECTIONS.items() for key in model.model_fields)


def _transitions(text: str) -> int:
    """How often letters and digits alternate inside the words of text (random tokens: often)."""
    count = 0
    for word in re.split(r"[^A-Za-z0-9]+", text):
        kinds = ["d" if c.isdigit() else "a" for c in word]
        count += sum(1 for a, b in itertools.pairwise(kinds) if a != b)
    return count


def _random_looking(text: str, length: int) -> bool:
    return (len(text) >= length and any(c.isalpha() for c in text) and any(c.isdigit() for c in text)
            and _transitions(text) >= 5)


def looks_like_secret(text: str | None, loose: bool = False) -> bool:
    """A value that reads like a password or a token: no blanks, at least 8 characters, not an
    address, a host name or a path, and of mixed kinds: a symbol (other than the . _ - of
    names) with letters or digits, or long and random-looking. loose (host sections, where
    nothing but names and addresses belongs): a symbol with letters or digits is enough;
    otherwise the symbol must come with two of lowercase, uppercase and digits."""
    if text is None:
        return False
    text = str(text).strip()
    if len(text) < 8 or any(c.isspace() for c in text):
        return False
    if _random_looking(text, 12 if loose else 16):
        return True  # even when it could pass for a host name: xk9mq2vl7pr4
    low = text.lower()
    if (re.fullmatch(r"[0-9./]+", text) or is_ipv6(text) or is_hostname(low) or is_hostname(low.strip("[]"))
            or text.startswith(("/", "~", "./"))):
        return False
    kinds = sum((any(c.islower() for c in text), any(c.isupper() for c in text), any(c.isdigit() for c in text)))
    strong = any(not c.isalnum() and c not in "._-" for c in text.strip("[]"))
    if strong and re.fullmatch(r"[A-Za-z0-9_./()*-]+:[^;:\s]+(;[A-Za-z0-9_./()*-]+:[^;:\s]+)*;?", text):
        strong = False  # name:value pairs (Mesos attributes and resources)
    if strong and re.fullmatch(r"[A-Za-z0-9_.-]*([:/,][A-Za-z0-9_.-]*)+", text):
        strong = False  # name:port:service:/path lists
    return strong and kinds >= (1 if loose else 2)  # hunter2!, pa$$w0rd


def shown(text: str) -> str:
    """A value as an error shows it: control characters escaped, cut at 200 characters."""
    text = str(text)
    cut = text[:MAX_SHOWN]
    out = escape(cut)
    if len(text) > MAX_SHOWN:
        out += f"... ({len(text)} characters, the first {MAX_SHOWN} shown)"
    return out


def escape(text: str) -> str:
    """Control and invisible characters written as escapes (\\t, \\r, \\x1b, \\u200b)."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1] if char not in "'\"" else char)
    return "".join(out)


def hide_section(section: str) -> bool:
    """A [section] name that is no section of config.cfg and reads like a password."""
    return section not in SECTIONS and section not in HOST_SECTIONS and looks_like_secret(section)


def hide_key_and_value(section: str | None, key: str | None, value: str | None) -> tuple[bool, bool]:
    """(hide the key, hide the value) of one error's section/key/value."""
    section = section or ""
    known_section = section in SECTIONS or section in HOST_SECTIONS
    if not known_section and looks_like_secret(section):
        return True, True  # a password written as a [section]
    if key is None:
        if value is None:
            return False, False
        # A line that is no key of its own (indented, unparsable): judge its key part and the text.
        match = re.match(r"^\s*([^=:\s]+)\s*[=:]", value)
        if match and is_secret_key(section, match.group(1).lower()):
            return False, True
        return False, looks_like_secret(value) or any(looks_like_secret(part) for part in re.split(r"[=:\s]+", value))
    if section in HOST_SECTIONS:
        if looks_like_secret(key, loose=True):
            return True, True
        return False, is_secret_key(section, key) or looks_like_secret(value, loose=True)
    if not known_section and looks_like_secret(key):
        return True, True
    if (section, key) not in _KNOWN_KEYS and looks_like_secret(key, loose=value is None):
        return True, True  # the key itself reads like a password (loose: a word alone on its line)
    if is_secret_key(section, key):
        return False, True
    if (section, key) not in _KNOWN_KEYS:
        return False, looks_like_secret(value)
    if key in _USER_KEYS:
        return False, looks_like_secret(value)
    return False, False


def scrub(text: str | None, secrets: list[str]) -> str | None:
    """text with every hidden value (and each of its parts) replaced by (hidden). Parts that
    read as plain words ("short") are left: messages say such words themselves, and are
    written never to quote a hidden value."""
    if text is None:
        return None
    needles = set()
    for secret in secrets:
        parts = [secret, *re.split(r"[\s,;=:@]+", secret)]
        needles.update(p for p in parts if len(p) >= 4 and (len(p) >= 8 or not p.isalpha()))
    for needle in sorted(needles, key=len, reverse=True):
        text = text.replace(needle, HIDDEN)
    return text
