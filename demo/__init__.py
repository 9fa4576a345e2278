"""What `./install.sh --demo` needs besides the installer: the node image (demo/node/) and
the stand-in Mesos and Marathon packages (demo/standins/). Product code; the tests use it."""
