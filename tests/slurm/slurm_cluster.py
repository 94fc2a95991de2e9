"""A throw-away single-node SLURM cluster for the test suite (Debian packages, no systemd, fake GPUs).

Everything the cluster writes (slurm.conf, gres.conf, state, spool, logs, pid files, fake GPU device
nodes) lives in one private directory, and the ports are picked free. /etc/slurm/slurm.conf and
gres.conf are symlinks to it while the cluster runs (removed at stop): the plugin's jobstep strips
SLURM_CONF from the environment of its inner ``srun``, which then only finds the default path. An
existing real /etc/slurm/slurm.conf is never touched (the cluster is then unavailable). munge is the
system's: a munged that is already running is used as is, otherwise one is started (as the ``munge``
user) and stopped again.

    cluster = LocalSlurm(gpus=4)
    cluster.start()          # installs slurmctld/slurmd/munge with apt-get when missing (root only)
    subprocess.run(["sbatch", ...], env=cluster.env)
    cluster.stop()           # scancel, then every daemon it started, by PID

``SlurmUnavailable`` says why a cluster cannot be had (not root, no apt-get, install failed, ...).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
NEEDED = ["slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo", "munged", "munge", "unmunge"]
SBIN = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
MUNGE_PID = Path("/run/munge/munged.pid")
ETC = Path("/etc/slurm")
ACTIVE = ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING")
MARKER = "FERBENCH_TEST_SLURM"  # in the environment of every process our daemons and runs start


class SlurmUnavailable(RuntimeError):
    """SLURM cannot be installed or started here; the message says why."""


def _which(name: str) -> str | None:
    found = [f"{d}/{name}" for d in SBIN if os.access(f"{d}/{name}", os.X_OK)]
    return shutil.which(name) or (found[0] if found else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (PID 1 here does not always reap) counts as stopped."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return False


def _stop_pid(pid: int, timeout: float = 15.0) -> None:
    if not _alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return f"({path} not readable)"


def missing_tools() -> list[str]:
    return [n for n in NEEDED if _which(n) is None]


def install() -> float:
    """apt-get install the SLURM and munge packages when a tool is missing; returns the seconds spent."""
    missing = missing_tools()
    if not missing:
        return 0.0
    if os.geteuid() != 0:
        raise SlurmUnavailable(
            f"SLURM tools missing ({', '.join(missing)}) and not root, so apt-get cannot install them")
    if _which("apt-get") is None:
        raise SlurmUnavailable(f"SLURM tools missing ({', '.join(missing)}) and no apt-get on this machine")
    t0 = time.time()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]):
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        if res.returncode != 0:
            tail = (res.stdout + res.stderr)[-2000:]
            raise SlurmUnavailable(f"`{' '.join(cmd)}` failed (exit {res.returncode}):\n{tail}")
    still = missing_tools()
    if still:
        raise SlurmUnavailable(f"installed {PACKAGES} but still missing: {', '.join(still)}")
    return time.time() - t0


class LocalSlurm:
    """slurmctld + slurmd on this machine, one partition, ``gpus`` fake GPUs of type ``fake``."""

    def __init__(self, gpus: int = 4, partition: str = "debug", root: Path | None = None,
                 min_cpus: int = 4, min_mem_mb: int = 32000):
        self.gpus = gpus
        self.min_cpus = min_cpus
        self.min_mem_mb = min_mem_mb
        self.partition = partition
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="ferslurm-"))
        self.conf = self.root / "slurm.conf"
        self.pids: dict[str, int] = {}  # daemons this object started
        self.links: list[Path] = []
        self.started = False
        self.timings: dict[str, float] = {}

    # -- environment for every slurm command / snakemake run -----------------------------------------
    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(ETC / "slurm.conf"), MARKER: str(self.root)}

    def run(self, *cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        res = subprocess.run(list(cmd), capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and res.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {res.returncode}): {res.stdout}{res.stderr}")
        return res

    # -- bring-up ------------------------------------------------------------------------------------
    def _write_config(self) -> None:
        for sub in ("state", "spool", "log", "run"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        devices = []
        for i in range(self.gpus):
            dev = self.root / f"fakegpu{i}"
            if not dev.exists():
                os.mknod(dev, 0o666 | 0o020000, os.makedev(1, 3))  # a character device like /dev/null
            devices.append(str(dev))
        # The node advertises at least `min_cpus` CPUs and `min_mem_mb` MB (SlurmdParameters=config_overrides)
        # so that the workflow's jobs (align asks for 8 GB) fit on a small CI machine and the demo's
        # training jobs run side by side; nothing is enforced here (no cgroups), like the fake GPUs.
        mem_total = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1]) // 1024
        cpus = max(os.cpu_count() or 1, self.min_cpus)
        mem = max(mem_total - 1024, self.min_mem_mb)
        r = self.root
        self.conf.write_text(f"""\
# written by tests/slurm/slurm_cluster.py for one test session
ClusterName=ferbenchtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=300
KillWait=5
SlurmctldTimeout=30
SlurmdTimeout=30
GresTypes=gpu
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem} Gres=gpu:fake:{self.gpus} State=UNKNOWN
PartitionName={self.partition} Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")
        (self.root / "gres.conf").write_text(
            "AutoDetect=off\n" + "".join(f"NodeName=localhost Name=gpu Type=fake File={d}\n" for d in devices)
        )

    def _link_config(self) -> None:
        ETC.mkdir(parents=True, exist_ok=True)
        for name in ("slurm.conf", "gres.conf"):
            link = ETC / name
            if link.is_symlink():
                target = Path(os.readlink(link))
                if target.parent.exists() and target.parent != self.root:
                    raise SlurmUnavailable(f"{link} points to another running test cluster ({target.parent})")
                link.unlink()
            elif link.exists():
                raise SlurmUnavailable(f"{link} exists (a real SLURM configuration?); not touching it")
            link.symlink_to(self.root / name)
            self.links.append(link)

    def _unlink_config(self) -> None:
        while self.links:
            link = self.links.pop()
            if link.is_symlink() and Path(os.readlink(link)).parent == self.root:
                link.unlink()

    def _start_munge(self) -> None:
        if subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode == 0:
            return  # a munged is already running (not ours: left alone at stop)
        if not Path("/etc/munge/munge.key").exists():
            subprocess.run([_which("mungekey") or "mungekey", "--create"], check=False, capture_output=True)
            shutil.chown("/etc/munge/munge.key", "munge", "munge")
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        os.chmod("/run/munge", 0o755)
        res = subprocess.run(["runuser", "-u", "munge", "--", _which("munged")],
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise SlurmUnavailable(f"munged did not start: {res.stdout}{res.stderr}")
        self.pids["munged"] = self._read_pid(MUNGE_PID, "munged")
        for _ in range(50):
            if subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        raise SlurmUnavailable("munged started but `munge -n | unmunge` keeps failing")

    def _read_pid(self, path: Path, name: str, timeout: float = 10) -> int:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                pid = int(path.read_text().strip())
                if _alive(pid):
                    return pid
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        log = self.root / "log" / f"{name}.log"
        raise SlurmUnavailable(f"{name} did not come up (no live pid in {path}); log tail:\n{_tail(log)}")

    def _daemon(self, name: str, *args: str) -> None:
        res = subprocess.run([_which(name), *args], capture_output=True, text=True, env=self.env, timeout=30)
        if res.returncode != 0:
            log = _tail(self.root / "log" / f"{name}.log")
            out = f"{res.stdout}{res.stderr}"
            raise SlurmUnavailable(f"{name} failed to start (exit {res.returncode}): {out}\n{log}")
        self.pids[name] = self._read_pid(self.root / "run" / f"{name}.pid", name)

    def start(self, timeout: float = 60) -> "LocalSlurm":
        if os.geteuid() != 0:
            raise SlurmUnavailable("not root: the test cluster installs packages and runs daemons as root")
        t0 = time.time()
        self.timings["install_s"] = install()
        t1 = time.time()
        try:
            self._write_config()
            self._link_config()
            self._start_munge()
            self._daemon("slurmctld", "-c")
            self._daemon("slurmd", "-N", "localhost")
            self.started = True
            self._wait_idle(timeout)
        except OSError as e:  # e.g. no right to create device nodes or write /etc/slurm
            self.stop()
            raise SlurmUnavailable(f"cannot set up the local cluster: {e}") from e
        except BaseException:
            self.stop()
            raise
        self.timings["start_s"] = time.time() - t1
        self.timings["total_s"] = time.time() - t0
        return self

    def _wait_idle(self, timeout: float) -> None:
        deadline = time.time() + timeout
        state = ""
        while time.time() < deadline:
            res = self.run("sinfo", "-h", "-N", "-o", "%t %G", check=False)
            state = res.stdout.strip()
            if res.returncode == 0 and state.split()[:1] == ["idle"]:
                return
            if any(s in state for s in ("inval", "drain")):
                reason = self.run("sinfo", "-h", "-R", check=False).stdout
                log = _tail(self.root / "log" / "slurmd.log")
                raise SlurmUnavailable(f"node came up as {state!r}: {reason}\n{log}")
            time.sleep(0.3)
        raise SlurmUnavailable(f"node not idle after {timeout:.0f} s (sinfo: {state!r})\n"
                               f"{_tail(self.root / 'log' / 'slurmctld.log')}")

    # -- jobs ----------------------------------------------------------------------------------------
    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld still remembers (MinJobAge=300 s): id, name, state, account, gres, partition"""
        res = self.run("squeue", "--states=all", "-h", "-o", "%i|%j|%T|%a|%b|%P")
        keys = ("id", "name", "state", "account", "gres", "partition")
        return [dict(zip(keys, line.split("|"))) for line in res.stdout.splitlines() if line.strip()]

    def cancel_all(self, timeout: float = 20) -> None:
        active = [j["id"] for j in self.jobs() if j["state"] in ACTIVE]
        if not active:
            return
        self.run("scancel", *active, check=False)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not any(j["state"] in ACTIVE for j in self.jobs()):
                return
            time.sleep(0.5)

    def _leftover_pids(self) -> list[int]:
        """Processes descended from our daemons or test runs: they carry our marker in their env."""
        marker = f"{MARKER}={self.root}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0") and _alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def stop(self) -> list[int]:
        """scancel, stop slurmd, slurmctld, then munged if we started it; returns PIDs still alive (none)."""
        if self.started and "slurmctld" in self.pids and _alive(self.pids["slurmctld"]):
            try:
                self.cancel_all()
            except Exception:
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            pid = self.pids.pop(name, None)
            if pid:
                _stop_pid(pid)
        for pid in self._leftover_pids():  # job steps orphaned by a killed slurmd, if any
            _stop_pid(pid, timeout=5)
        self.started = False
        self._unlink_config()
        left = [p for p in self._leftover_pids() if _alive(p)]
        return left

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
