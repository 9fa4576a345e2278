"""The test bed is cheap to re-enter: a second build reuses the image, dockerd keeps running."""

import subprocess
from pathlib import Path

import pytest

# The node image and Docker are the demo's (demo/node/): the product's scripts, tested here.
SCRIPTS = Path(__file__).resolve().parents[2] / "demo" / "node"

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("testbed")]


def _run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPTS / script)], capture_output=True, text=True, check=False, timeout=600)


def test_second_image_build_reuses_the_image_without_debootstrap():
    first = _run("build-image.sh")
    assert first.returncode == 0, first.stderr
    again = _run("build-image.sh")
    assert again.returncode == 0, again.stderr
    assert "is current (recipe unchanged), not rebuilding" in again.stderr
    assert "debootstrap" not in again.stderr
    image = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{ index .Config.Labels \"dcos-testbed.recipe\" }}",
         "dcos-testbed/node:bookworm"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert len(image) == 12
    # The image carries no test-bed label: clean.sh removes what tests made (they label their
    # containers), never an operator's demo cluster made from the same image.
    owned = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{ index .Config.Labels \"dcos-testbed\" }}",
         "dcos-testbed/node:bookworm"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert owned in ("", "<no value>")


def test_docker_script_is_a_no_op_when_dockerd_answers():
    proc = _run("docker.sh")
    assert proc.returncode == 0, proc.stderr
    assert "starting dockerd" not in proc.stderr
