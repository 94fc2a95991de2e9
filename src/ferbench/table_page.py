"""A markdown table file as a standalone HTML page, for the Snakemake report (which shows HTML inline and
offers markdown only as a download). The markdown file stays the canonical table."""

from __future__ import annotations

import html
from pathlib import Path

import markdown

from .io import write_text

_STYLE = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; font-size: 14px; margin: 1.2em; color: #1f2937; }
table { border-collapse: collapse; margin: 0.6em 0 1.4em; }
th, td { border: 1px solid #d1d5db; padding: 0.3em 0.7em; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f4f6; }
tr:nth-child(even) td { background: #fafafa; }
h1 { font-size: 1.3em; } h2 { font-size: 1.15em; } h3 { font-size: 1.0em; }
"""


def markdown_page(text: str, title: str) -> str:
    body = markdown.markdown(text, extensions=["tables"])
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")


def write_markdown_page(md_path: str | Path, out: str | Path) -> Path:
    md_path = Path(md_path)
    return write_text(out, markdown_page(md_path.read_text(encoding="utf-8"), md_path.stem.replace("_", " ")))
