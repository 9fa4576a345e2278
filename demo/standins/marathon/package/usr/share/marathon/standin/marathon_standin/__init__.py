"""TEST STAND-IN for Marathon 1.10 (never for production).

Imitates the command line (Scallop 3.3.2), the Curator leader latch in ZooKeeper, the Mesos
framework registration (through the Mesos stand-in's /standin/frameworks endpoint) and part of
the HTTP API, and runs the apps' instances as tasks on the Mesos stand-in's agents (scheduler.py),
after demo/standins/reference/marathon/.
"""

VERSION = "1.10.26"
BUILDREF = "unknown"
