"""Dataset adapters: original distributions -> ``SourceRecord`` rows (see ``base``)."""

from .base import AdapterResult, Exclusion, MalformedLabelFile, MissingRawData, SourceRecord
from .registry import (
    UnknownOption, adapter_names, check_raw_files, get_adapter, register_adapter, with_defaults,
)

# Importing an adapter module registers its format (as timm's model modules register their models).
from . import (  # noqa: E402,F401,I001
    affectnet, ckplus, csv_table, expw, fer2013, ferplus, folder, lfw_fer, pattern, rafdb, sfew,
)

__all__ = [
    "AdapterResult",
    "Exclusion",
    "MalformedLabelFile",
    "MissingRawData",
    "SourceRecord",
    "UnknownOption",
    "adapter_names",
    "check_raw_files",
    "get_adapter",
    "register_adapter",
    "with_defaults",
]
