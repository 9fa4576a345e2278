"""One module per area; importing this package registers every check."""

from installer.precheck.checks import (  # noqa: F401 - imported for their @check registrations
    certs,
    disk,
    existing,
    filesystem,
    identity,
    kernel,
    network,
    os,
    ports,
    repo,
    resources,
    time,
)
