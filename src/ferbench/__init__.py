"""ferbench: a reproducible benchmarking workflow for facial expression recognition."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ferbench")
except PackageNotFoundError:  # a source tree on PYTHONPATH without an install
    __version__ = "0+unknown"
