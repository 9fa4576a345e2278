"""Every check registers here with a stable name (used in waivers: name@host), the area it
belongs to, and the groups it applies to."""

from dataclasses import dataclass

from installer.precheck.model import CheckFn


@dataclass(frozen=True)
class Check:
    name: str
    area: str
    groups: tuple[str, ...]  # inventory groups it runs on ("all": every host)
    fn: CheckFn
    needs_observation: bool = True  # False: runs even when the host could not be observed


CHECKS: list[Check] = []


def check(name: str, area: str, groups: tuple[str, ...] = ("all",), needs_observation: bool = True):
    def register(fn: CheckFn) -> CheckFn:
        CHECKS.append(Check(name, area, groups, fn, needs_observation))
        return fn

    return register


def check_names() -> list[str]:
    return [c.name for c in CHECKS]
