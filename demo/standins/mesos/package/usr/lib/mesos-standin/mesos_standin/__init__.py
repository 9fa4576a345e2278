"""TEST STAND-IN for Apache Mesos 1.11.0 (mesos-master, mesos-agent). Never for production."""
