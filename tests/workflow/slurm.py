"""A throw-away, one-node SLURM cluster for the workflow tests.

`slurm_cluster` (a session fixture; `running_cluster` is the same as a context manager) gives a
real slurmctld + slurmd + munged on this machine, configured in a private temporary folder:

- it needs Linux and root (the daemons run as root and launch the jobs); when the SLURM and
  MUNGE programs are missing it installs the Debian packages `slurmctld slurmd slurm-client
  munge` with apt-get (services kept from starting by a temporary policy-rc.d), and skips with
  the reason when it cannot;
- nothing is written to /etc: slurm.conf lives in the temporary folder and reaches every SLURM
  command through `SLURM_CONF` (use `cluster.env` for every subprocess), munged gets its own
  key and socket there (`AuthInfo=socket=...`), and the daemons listen on free ports, so a
  SLURM or MUNGE already installed on the machine is neither used nor disturbed;
- teardown, also after a failed or interrupted test, cancels the jobs, stops the daemons,
  kills any process still carrying the cluster's marker variable (job steps, slurmstepd) and
  removes the folder. The daemons also get SIGTERM from the kernel if pytest itself dies.

Settings this needs in a container (no systemd, no delegated cgroups):
ProctrackType=proctrack/linuxproc and TaskPlugin=task/none (with proctrack/cgroup and
task/cgroup slurmd starts but every task launch fails: "Plugin initialization failed"); no
accounting (AccountingStorageType=accounting_storage/none, JobAcctGatherType=
jobacct_gather/none): `sacct` cannot answer, so Snakemake's SLURM executor must query `squeue`
(profiles/slurm sets it), which sees a finished job for MinJobAge=3600 s; and an `srun` wrapper
that restores SLURM_CONF inside jobs (see `running_cluster`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
# program -> the Debian package that provides it
PROGRAMS = {
    "slurmctld": "slurmctld",
    "slurmd": "slurmd",
    "sbatch": "slurm-client",
    "squeue": "slurm-client",
    "sinfo": "slurm-client",
    "scancel": "slurm-client",
    "scontrol": "slurm-client",
    "srun": "slurm-client",
    "munged": "munge",
}
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin"])
MARKER = "WTAL_TEST_SLURM_ROOT"  # set in every daemon's (and job's) environment
PARTITION = "debug"
STARTUP_TIMEOUT_S = 90
INSTALL_TIMEOUT_S = 900


def _which(program: str) -> str | None:
    return shutil.which(program, path=SEARCH_PATH)


def missing_programs() -> list[str]:
    return [program for program in PROGRAMS if _which(program) is None]


def unavailable_reason() -> str | None:
    """Why this machine cannot host the test cluster, or None when it can."""
    if not sys.platform.startswith("linux"):
        return f"a SLURM test cluster needs Linux, this is {sys.platform}"
    if os.geteuid() != 0:
        return "a SLURM test cluster needs root (slurmd and munged run as root)"
    missing = missing_programs()
    if missing and _which("apt-get") is None:
        return f"SLURM/MUNGE programs missing ({', '.join(missing)}) and no apt-get to install them"
    return None


def install_packages() -> float:
    """apt-get install the SLURM and MUNGE packages if a program is missing; the seconds spent.

    Services are kept from starting (a temporary /usr/sbin/policy-rc.d answering 101 unless
    one exists): the fixture runs its own daemons and must leave nothing running."""
    if not missing_programs():
        return 0.0
    start = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "PATH": SEARCH_PATH}
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text(
            "#!/bin/sh\n# written by tests/workflow/slurm.py during apt-get\nexit 101\n"
        )
        policy.chmod(0o755)
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    try:
        result = _run(install, env=env, timeout=INSTALL_TIMEOUT_S)
        if result.returncode != 0:  # stale or missing package lists: update once, retry
            _run(["apt-get", "update", "-q"], env=env, timeout=INSTALL_TIMEOUT_S)
            result = _run(install, env=env, timeout=INSTALL_TIMEOUT_S)
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)
    if result.returncode != 0 or missing_programs():
        pytest.skip(
            f"could not install {' '.join(PACKAGES)} with apt-get "
            f"(exit {result.returncode}): {result.stdout[-1500:]}"
        )
    return time.monotonic() - start


def _run(args: list[str], *, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            args,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        output = error.stdout if isinstance(error.stdout, str) else ""
        return subprocess.CompletedProcess(args, 124, f"timed out after {timeout}s\n{output}")


@dataclass
class SlurmCluster:
    """A running one-node cluster. `env` (os.environ + SLURM_CONF + PATH with the SLURM
    programs + the marker) must be the environment of every command that talks to it."""

    root: Path
    conf: Path
    env: dict[str, str]
    node: str
    partition: str
    cpus: int
    memory_mb: int
    timings: dict[str, float] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def run(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """A SLURM client command (sinfo, squeue, ...) against this cluster."""
        return _run(list(args), env=self.env, timeout=timeout)

    def logs(self, tail: int = 40) -> str:
        """The last lines of every daemon log, for failure messages."""
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            parts.append(f"--- {path.name} (last {tail} lines)\n" + "\n".join(lines))
        return "\n".join(parts)


def node_hardware() -> dict[str, str]:
    """`slurmd -C` as key/value pairs: this machine's CPUs, sockets, cores, threads, memory."""
    result = _run(
        [_which("slurmd") or "slurmd", "-C"], env={**os.environ, "PATH": SEARCH_PATH}, timeout=30
    )
    first = result.stdout.splitlines()[0] if result.stdout else ""
    pairs = dict(item.split("=", 1) for item in first.split() if "=" in item)
    if result.returncode != 0 or "CPUs" not in pairs or "RealMemory" not in pairs:
        raise RuntimeError(f"slurmd -C failed (exit {result.returncode}): {result.stdout}")
    return pairs


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def slurm_conf(root: Path, node: str, hardware: dict[str, str], ports: list[int]) -> str:
    """The one-node slurm.conf: everything under `root`, no accounting, no cgroups."""
    geometry = " ".join(
        f"{key}={hardware[key]}"
        for key in ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore")
        if key in hardware
    )
    return f"""\
# One-node test cluster written by tests/workflow/slurm.py; removed at teardown.
ClusterName=wtaltest
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ports[0]}
SlurmdPort={ports[1]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket.2
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
# No SlurmctldLogFile/SlurmdLogFile: run with -D, the daemons log to stderr, which the
# fixture keeps in {root}/log/<daemon>.log.
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups in a container: track job processes through /proc, no CPU binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# No slurmdbd: sacct cannot answer, the Snakemake executor queries squeue instead,
# which sees a finished job for MinJobAge seconds.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=3600
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
NodeName={node} NodeAddr=127.0.0.1 {geometry} RealMemory={hardware["RealMemory"]} State=UNKNOWN
PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask the kernel to SIGTERM the daemon when the process that started it dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start(cluster: SlurmCluster, name: str, args: list[str]) -> subprocess.Popen:
    out = (cluster.root / "log" / f"{name}.log").open("wb")
    process = subprocess.Popen(
        args,
        env=cluster.env,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=cluster.root,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    out.close()
    cluster.processes[name] = process
    return process


def _wait_for(cluster: SlurmCluster, what: str, ready, timeout: float = STARTUP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in cluster.processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode} while waiting for {what}\n"
                    + cluster.logs()
                )
        if ready():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}\n{cluster.logs()}")


def _node_state(cluster: SlurmCluster) -> str:
    result = cluster.run("sinfo", "--noheader", "--Node", "--format=%t", "--nodes", cluster.node)
    return result.stdout.strip() if result.returncode == 0 else ""


def _start_cluster(cluster: SlurmCluster) -> None:
    root = cluster.root
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    # --force: munged refuses to run as root (and with a socket folder not world-readable)
    # without it; the key, socket, pid and seed files all stay under the temporary folder.
    _start(
        cluster,
        "munged",
        [
            _which("munged") or "munged",
            "--foreground",
            "--force",
            f"--key-file={key}",
            f"--socket={root}/munge/munge.socket.2",
            f"--pid-file={root}/run/munged.pid",
            f"--seed-file={root}/munge/munged.seed",
        ],
    )
    _wait_for(cluster, "munged's socket", (root / "munge" / "munge.socket.2").exists, 30)

    _start(
        cluster, "slurmctld", [_which("slurmctld") or "slurmctld", "-D", "-f", str(cluster.conf)]
    )
    _wait_for(cluster, "slurmctld", lambda: "UP" in cluster.run("scontrol", "ping").stdout)

    _start(
        cluster,
        "slurmd",
        [_which("slurmd") or "slurmd", "-D", "-f", str(cluster.conf), "-N", cluster.node],
    )
    _wait_for(cluster, f"node {cluster.node} idle", lambda: _node_state(cluster) == "idle")


def _processes_with_marker(root: Path) -> list[int]:
    """Processes whose environment carries this cluster's marker (slurmstepd, job steps)."""
    needle = f"{MARKER}={root}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def _stop_cluster(cluster: SlurmCluster) -> None:
    """Stop everything the cluster started; every step runs even if an earlier one fails."""
    running = [p for p in cluster.processes.values() if p.poll() is None]
    if "slurmctld" in cluster.processes and cluster.processes["slurmctld"].poll() is None:
        with contextlib.suppress(Exception):
            jobs = cluster.run("squeue", "--noheader", "--format=%A", timeout=10).stdout.split()
            if jobs:
                cluster.run("scancel", *jobs, timeout=10)
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    left = cluster.run("squeue", "--noheader", "--states=R,CG,PD", timeout=10)
                    if not left.stdout.strip():
                        break
                    time.sleep(0.5)
    # slurmd first (no new job steps), then slurmctld, then munged (both daemons need it to stop).
    for name in ("slurmd", "slurmctld", "munged"):
        process = cluster.processes.get(name)
        if process is None or process.poll() is not None:
            continue
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(timeout=10)
    for process in running:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    for _ in range(3):  # stragglers: slurmstepd and job processes outlive slurmd
        leftover = _processes_with_marker(cluster.root)
        if not leftover:
            break
        for pid in leftover:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)


@contextlib.contextmanager
def running_cluster(base: Path | None = None) -> Iterator[SlurmCluster]:
    """Start the one-node cluster (programs must be installed), yield it, then tear it down.

    The state lives in a fresh folder under `base` (default: the system temporary folder;
    kept short because munge and slurmstepd put Unix sockets there, 108 bytes at most)."""
    start = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="wtal-slurm-", dir=base))
    cluster = None
    try:
        cluster = _new_cluster(root)
        _start_cluster(cluster)
        cluster.timings["startup_s"] = time.monotonic() - start
        yield cluster
    finally:
        if cluster is not None:
            _stop_cluster(cluster)
        shutil.rmtree(root, ignore_errors=True)


def _new_cluster(root: Path) -> SlurmCluster:
    """Write the configuration, munge key folder and srun wrapper under `root`."""
    for sub in ("munge", "state", "spool", "log", "run"):
        (root / sub).mkdir()
    (root / "munge").chmod(0o755)
    node = socket.gethostname().split(".")[0]
    hardware = node_hardware()
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf(root, node, hardware, _free_ports(2)))
    # snakemake-executor-plugin-slurm-jobstep (0.6.1) runs each job's command through a
    # nested `srun` after deleting every SLURM_* variable but the job ids, SLURM_CONF
    # included, so that srun finds no configuration outside /etc/slurm (fatal: "Could not
    # establish a configuration source"). This srun, first on the jobs' PATH, puts it back.
    (root / "bin").mkdir()
    srun = root / "bin" / "srun"
    srun.write_text(f'#!/bin/sh\nSLURM_CONF={conf} exec {_which("srun") or "srun"} "$@"\n')
    srun.chmod(0o755)
    bin_dirs = [
        str(root / "bin"),
        str(Path(sys.executable).parent),
        *("/usr/sbin", "/usr/bin", "/sbin", "/bin"),
    ]
    # Without the caller's own SLURM_*/SBATCH_*/SRUN_* variables: inside a SLURM job they
    # would send sbatch/srun to the wrong cluster or add options.
    prefixes = ("SLURM_", "SBATCH_", "SRUN_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(
        {
            "SLURM_CONF": str(conf),
            MARKER: str(root),
            "PATH": os.pathsep.join([*bin_dirs, os.environ.get("PATH", "")]),
        }
    )
    return SlurmCluster(
        root=root,
        conf=conf,
        env=env,
        node=node,
        partition=PARTITION,
        cpus=int(hardware["CPUs"]),
        memory_mb=int(hardware["RealMemory"]),
    )


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """The running one-node cluster; skipped (with the reason) where it cannot run here."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    install_s = install_packages()
    with running_cluster() as cluster:
        cluster.timings["install_s"] = install_s
        yield cluster
