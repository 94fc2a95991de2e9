"""Label vocabularies: canonical class names, each dataset's own class order, and remaps.

Adapters translate a dataset's spelling (``Anger``, ``happiness``, ``sadness``...) into the canonical
names below, and report ``classes`` in the dataset's own order (the order its integer codes use), so
that integer labels in a label table mean what the dataset's owners meant by them. A remap (e.g. 7 -> 3
classes) then works on canonical names and therefore applies to any dataset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# The eight basic expressions (Ekman's six, neutral, contempt) and the three valence classes of LFW-FER.
CANONICAL = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt")
VALENCE = ("negative", "neutral", "positive")

# Every spelling the supported distributions use, lower-cased, -> canonical name.
ALIASES = {
    "neutral": "neutral",
    "happy": "happy", "happiness": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "fear": "fear", "fearful": "fear",
    "disgust": "disgust", "disgusted": "disgust",
    "angry": "angry", "anger": "angry",
    "contempt": "contempt",
    "negative": "negative", "positive": "positive",
}

# Each dataset's own class order: position i is the class of the dataset's code i (0-based here;
# RAF-DB writes them 1-based, CK+ Emotion files 0..7 with 0 = neutral).
DATASET_CLASSES: dict[str, tuple[str, ...]] = {
    "rafdb": ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral"),
    "fer2013": ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
    "ferplus": ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt"),
    "expw": ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
    "sfew": ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"),
    "ckplus": ("neutral", "angry", "contempt", "disgust", "fear", "happy", "sad", "surprise"),
    "ckplus48": ("angry", "contempt", "disgust", "fear", "happy", "sad", "surprise"),
    "affectnet8": ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt"),
    "affectnet7": ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry"),
    "lfw_fer": VALENCE,
}

# Remaps over canonical names; a class mapped to ``None`` is excluded (recorded in the QC table).
# ``valence`` follows the LFW-FER seed's three classes. Surprise is mostly positive in valence ratings
# of FER data (startled-and-pleased dominates), so it goes to ``positive``; ``valence_no_surprise``
# drops it instead for studies that treat it as ambiguous.
_NEGATIVE = ("sad", "fear", "disgust", "angry", "contempt")
REMAPS: dict[str, dict[str, str | None]] = {
    "valence": {
        **{c: "negative" for c in _NEGATIVE},
        "neutral": "neutral", "happy": "positive", "surprise": "positive",
        **{c: c for c in VALENCE},
    },
    "valence_no_surprise": {
        **{c: "negative" for c in _NEGATIVE},
        "neutral": "neutral", "happy": "positive", "surprise": None,
        **{c: c for c in VALENCE},
    },
    # AffectNet-8 / FERPlus / CK+ -> the seven classes every other dataset has.
    "basic7": {**{c: c for c in CANONICAL}, "contempt": None},
}


def canonical_name(raw: str) -> str | None:
    """The canonical name of a dataset's spelling, or ``None`` if it is not an expression we know."""
    return ALIASES.get(raw.strip().lower())


def remap_for(remap_name: str, classes: Iterable[str]) -> dict[str, str | None]:
    """The remap ``remap_name`` restricted to ``classes``, as the label-table stage takes it.

    A class the remap does not mention maps to ``None`` (excluded with a reason), never to itself:
    a remap is a complete statement of the target vocabulary.
    """
    try:
        table = REMAPS[remap_name]
    except KeyError:
        raise KeyError(f"unknown label remap {remap_name!r}; known: {', '.join(sorted(REMAPS))}") from None
    return {c: table.get(c) for c in classes}


def apply_remap(label_names: Sequence[str], remap_name: str) -> list[str | None]:
    """Remap each name; ``None`` where the remap excludes it (callers record the exclusion)."""
    mapping = remap_for(remap_name, set(label_names))
    return [mapping[n] for n in label_names]


def code_to_class(dataset: str, code: int, base: int = 0) -> str | None:
    """Canonical class of a dataset's integer code (``base`` 1 for RAF-DB), or ``None`` if outside."""
    classes = DATASET_CLASSES[dataset]
    i = code - base
    return classes[i] if 0 <= i < len(classes) else None

