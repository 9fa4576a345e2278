"""Order of the test run: the longest work first, so two workers (./test.sh) end together
instead of one of them starting a ten-minute scenario when the other is done. Within each
layer the order is pytest's own; a module's tests keep theirs (they share one cluster)."""

# Minutes each took in CI on the 2-core test machine (pytest --durations), longest first.
# A scenario not listed goes after those that are; the fast layers (unit, lint) come last.
_WEIGHT = {
    "tests/e2e/test_cluster.py": 100,
    "tests/e2e/test_alt_config.py": 90,
    "mesos_marathon": 80,
    "lb": 70,
    "consul": 60,
    "mysql": 55,
    "repo_registry": 50,
    "common": 35,
    "docker": 30,
    "ntp": 25,
    "tests/integration/": 20,
    "tests/lint/": 10,
}


def _weight(item) -> int:
    nodeid = item.nodeid
    scenario = item.callspec.params.get("scenario") if hasattr(item, "callspec") else None
    if scenario is not None:
        return _WEIGHT.get(scenario, 28)
    return next((w for key, w in _WEIGHT.items() if nodeid.startswith(key)), 0)


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=_weight, reverse=True)  # stable: a module's own order is kept
