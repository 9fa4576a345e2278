"""The DCOS installer: config.cfg to a finished cluster, through ansible-runner."""

__version__ = "0.1.0"
