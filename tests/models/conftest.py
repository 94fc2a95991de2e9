"""Model-zoo tests run single-threaded: on a CPU shared with other jobs, OpenMP threads spin-waiting on
busy cores make multi-threaded convolutions 10-30× slower than one thread."""

import torch

torch.set_num_threads(1)
