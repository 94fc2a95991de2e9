"""Resuming a fold after preemption, a time limit or a crash.

* The state of the last completed epoch is saved after every epoch (atomically) to a path outside the
  declared outputs, which Snakemake deletes when a job fails. The epoch's log line is printed only once
  that file is on disk, so a log never claims a saved epoch that is not.
* SIGTERM/SIGUSR1 (sent by SLURM before a kill, at the time limit or at preemption) stop the job with
  :class:`Preempted`; the next attempt continues from the last saved epoch.
* A job killed while saving leaves a temp file beside the state; the next attempt removes it.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import torch

from ..io import remove_stale_temps, write_with

STATE_KEYS = ("epoch_done", "model", "objective", "optimizer", "scheduler", "best", "bad_epochs", "history", "seed")


class Preempted(SystemExit):
    """Raised from the signal handler; the exit code tells SLURM/Snakemake the job did not finish."""


class PreemptionSignals:
    """Turn SIGTERM/SIGUSR1 into a clean :class:`Preempted` exit while the block runs."""

    def __init__(self, resume_path: Path):
        self.resume_path = resume_path

    def __enter__(self):
        self.old = {s: signal.signal(s, self._handle) for s in (signal.SIGTERM, signal.SIGUSR1)}
        return self

    def _handle(self, signum, frame):
        raise Preempted(
            f"received {signal.Signals(signum).name}: stopping; the rerun resumes from the last completed "
            f"epoch saved in {self.resume_path}"
        )

    def __exit__(self, *exc):
        for s, h in self.old.items():
            signal.signal(s, h)
        return False


class ResumeFile:
    """The resume state of one fold: ``save`` after each epoch, ``load`` at start, ``remove`` when done."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def remove_stale_temps(self) -> list[Path]:
        return remove_stale_temps(self.path)

    def save(self, state: dict[str, Any]) -> None:
        write_with(self.path, lambda p: torch.save(state, p))

    def load(self, seed: int, map_location: torch.device | str = "cpu") -> dict[str, Any] | None:
        """The saved state, or None when there is none; a clear error naming the file when it cannot
        be read (e.g. truncated by a full disk) or belongs to another fold."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location=map_location, weights_only=True)
        except Exception as e:
            raise ValueError(
                f"{self.path}: cannot read this resume state ({type(e).__name__}: {e}); delete the file "
                "to train the fold from its first epoch"
            ) from e
        missing = [k for k in STATE_KEYS if not isinstance(state, dict) or k not in state]
        if missing:
            raise ValueError(f"{self.path}: not a ferbench resume state (missing {missing}); delete the file "
                             "to train the fold from its first epoch")
        if state["seed"] != seed:
            raise ValueError(f"{self.path} belongs to another fold (seed {state['seed']} != {seed}); delete it")
        return state

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
