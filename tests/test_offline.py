"""No network: a full `themesift run` in a fresh process, with every socket refused.

The CLI runs in a subprocess whose Python refuses (and logs) every attempt to reach the
network: connect, connect_ex, sendto and name lookups. HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE
are *unset* for it, so the test also proves that themesift keeps the model libraries offline
by itself, and that the models load from installed packages only. A library that caught the
refusal and carried on would still leave a line in the log, which must stay empty.

The helpers here (``run_cli_offline``, ``first_run``) start the expensive full runs that
tests/test_reproducible.py and tests/test_crash.py share: every one of them is checked
for network use the same way.
"""

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pandas as pd

import themesift as ts

ROOT = Path(__file__).resolve().parents[1]
TRANSCRIPT = ROOT / "data" / "sample" / "fg1_act_team.txt"  # one transcript keeps a run ~15 s
CSVS = ("units.csv", "codes.csv", "suggestions.csv", "unit_suggestions.csv", "review.csv")

NO_NETWORK = textwrap.dedent("""
    import os, socket, sys

    LOG = os.environ["THEMESIFT_TEST_NETWORK_LOG"]

    def refused(what, detail):
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(f"{what} {detail!r}\\n")
        return OSError(101, f"Network is unreachable ({what} refused by the no-network test)")

    def guard(name):
        original = getattr(socket.socket, name)

        def blocked(self, address, *args):
            if self.family == getattr(socket, "AF_UNIX", None):
                return original(self, address, *args)
            raise refused(f"socket.{name}", address)
        setattr(socket.socket, name, blocked)

    for name in ("connect", "connect_ex"):
        guard(name)

    def sendto(self, *args):
        raise refused("socket.sendto", args[-1])
    socket.socket.sendto = sendto

    def getaddrinfo(host, *args, **kwargs):
        raise refused("socket.getaddrinfo", host)
    socket.getaddrinfo = getaddrinfo

    from themesift.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _scratch() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="themesift-cli-runs-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


SCRATCH = _scratch()


def cli_environment(cache: Path, network_log: Path) -> dict[str, str]:
    """The environment of a CLI run: its own embedding cache, no offline switches set."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(THEMESIFT_CACHE_DIR=str(cache), THEMESIFT_TEST_NETWORK_LOG=str(network_log),
               PYTHONHASHSEED="random")
    return env


def start_cli_offline(*args: str, cache: Path, network_log: Path) -> subprocess.Popen:
    """Start `themesift ARGS` in a fresh process that cannot reach the network."""
    network_log.touch()
    return subprocess.Popen([sys.executable, "-c", NO_NETWORK, *args], cwd=ROOT, text=True,
                            env=cli_environment(cache, network_log),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run_cli_offline(*args: str, cache: Path, network_log: Path, timeout: float = 300) -> dict:
    """Run `themesift ARGS` to the end; its exit code, output and wall time."""
    started = time.perf_counter()
    proc = start_cli_offline(*args, cache=cache, network_log=network_log)
    out, err = proc.communicate(timeout=timeout)
    return {"returncode": proc.returncode, "stdout": out, "stderr": err,
            "seconds": time.perf_counter() - started}


@functools.lru_cache(maxsize=None)
def first_run() -> dict:
    """`themesift run TRANSCRIPT --study S --out O` with a cold embedding cache, once per session.

    Returns the paths (``study``, ``out``, ``cache``, ``network_log``) and the run's result.
    """
    folder = SCRATCH / "first"
    paths = {"study": folder / "study", "out": folder / "out", "cache": folder / "cache",
             "network_log": folder / "network.log"}
    folder.mkdir()
    result = run_cli_offline("run", str(TRANSCRIPT), "--study", str(paths["study"]),
                             "--out", str(paths["out"]), "--quiet",
                             cache=paths["cache"], network_log=paths["network_log"])
    assert result["returncode"] == 0, result["stderr"]
    return {**paths, **result}


def assert_no_network_use(network_log: Path) -> None:
    attempts = network_log.read_text(encoding="utf-8")
    assert attempts == "", f"themesift tried to reach the network:\n{attempts}"


def test_a_full_cli_run_opens_no_socket_and_needs_no_offline_switch():
    run = first_run()
    assert_no_network_use(run["network_log"])
    assert "Traceback" not in run["stderr"]
    assert sorted(p.name for p in run["out"].iterdir()) == sorted(
        ["units.csv", "codes.csv", "suggestions.csv", "unit_suggestions.csv", "review.csv",
         "review.xlsx", "report.html", "manifest.json"])
    units = pd.read_csv(run["out"] / "units.csv")
    assert len(units) > 20 and set(units["doc_id"]) == {TRANSCRIPT.stem}
    with ts.Study.open(run["study"]) as study:
        assert study.runs["status"].tolist() == ["complete"]


def test_the_model_came_from_an_installed_package():
    import json

    manifest = json.loads((first_run()["out"] / "manifest.json").read_text())
    model = manifest["embedding_model"]
    assert model["source"].startswith("package ")
    assert Path(model["path"]).is_relative_to(Path(sys.prefix))


def test_the_guard_really_refuses_and_logs(tmp_path):
    """The guard itself: a connection attempt fails and is logged (so an empty log means something)."""
    code = NO_NETWORK.replace("from themesift.cli import main\nsys.exit(main(sys.argv[1:]))",
                              "socket.create_connection(('example.org', 80), timeout=1)")
    log = tmp_path / "network.log"
    log.touch()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=cli_environment(tmp_path / "cache", log), timeout=60)
    assert result.returncode != 0 and "Network is unreachable" in result.stderr
    assert "example.org" in log.read_text()
