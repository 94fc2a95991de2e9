"""Dataset adapters: original distributions -> ``SourceRecord`` rows (see ``base``)."""

from .base import AdapterResult, Exclusion, MalformedLabelFile, MissingRawData, SourceRecord
from .registry import adapter_names, check_raw_files, get_adapter, register_adapter

__all__ = [
    "AdapterResult",
    "Exclusion",
    "MalformedLabelFile",
    "MissingRawData",
    "SourceRecord",
    "adapter_names",
    "check_raw_files",
    "get_adapter",
    "register_adapter",
]
