"""Training: cached images -> batched augmentation -> one loop for every model."""

from .job import TrainJob
from .loop import train
from .resume import Preempted

__all__ = ["Preempted", "TrainJob", "train"]
