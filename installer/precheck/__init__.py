"""Precheck: gather observations from every host once (one parallel ansible-runner call),
then evaluate every check on the controller as a pure function, report one table and
precheck.json. Any FAIL stops the install (exit 3); a WARN never does."""
