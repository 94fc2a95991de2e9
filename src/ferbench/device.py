"""Which device a job computes on: the config's ``auto | cpu | cuda``, and a GPU of its own on a workstation.

Snakemake's local executor limits how many GPU jobs run at once (``--resources gpu=N``) but does not
say which GPU each one gets, so without help every job lands on the first card. :func:`gpu_slot`
lets each training job claim one GPU through an exclusive ``flock`` on a file per GPU and restricts
the process to it with ``CUDA_VISIBLE_DEVICES``, which CUDA reads when it initialises: it must run
before anything asks CUDA a question (``torch.cuda.is_available()`` included). The kernel releases
the lock when the process ends, however it ends (``kill -9`` too), so a slot is never leaked.
On SLURM the scheduler already restricts ``CUDA_VISIBLE_DEVICES`` to the job's GPU, and a single
visible GPU needs no slot.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch

SLOTS_DIR_ENV = "FERBENCH_GPU_SLOTS_DIR"


def resolve_device(requested: str = "auto") -> torch.device:
    """``auto``: the (first visible) GPU when CUDA is available, else the CPU; anything else as given."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES entries (counted through NVML, which,
    unlike ``torch.cuda.is_available()``, does not initialise CUDA)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip()]
    return [str(i) for i in range(torch.cuda.device_count())]


def default_slots_dir() -> Path:
    return Path(os.environ.get(SLOTS_DIR_ENV) or Path(tempfile.gettempdir()) / f"ferbench-gpu-slots-{os.getuid()}")


@contextmanager
def gpu_slot(devices: Sequence[str] | None = None, slots_dir: str | Path | None = None,
             poll_s: float = 2.0) -> Iterator[str | None]:
    """Hold one of ``devices`` (default: the visible GPUs) for the duration of the block.

    Yields the device entry claimed (now the only one in ``CUDA_VISIBLE_DEVICES``), or None when
    there is at most one device to choose from. When every slot is held (by jobs of another run),
    waits for one to be released and says so once.
    """
    devices = list(visible_gpus() if devices is None else devices)
    if len(devices) <= 1:
        yield None
        return
    folder = Path(slots_dir or default_slots_dir())
    folder.mkdir(parents=True, exist_ok=True)
    dev, handle = _claim(devices, folder, poll_s)
    old = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = dev
    print(f"GPU slot: using device {dev} of {','.join(devices)} (lock {handle.name})", flush=True)
    try:
        yield dev
    finally:
        handle.close()  # releases the lock
        if old is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = old


def _claim(devices: Sequence[str], folder: Path, poll_s: float):
    said = False
    while True:
        for dev in devices:
            handle = open(folder / f"gpu-{dev}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return dev, handle
            except BlockingIOError:
                handle.close()
        if not said:
            print(f"GPU slot: all of {','.join(devices)} are held (locks in {folder}); waiting", flush=True)
            said = True
        time.sleep(poll_s)
