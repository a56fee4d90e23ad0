"""themesift: NLP-assisted theme discovery for qualitative research.

Focus-group transcripts in, meaning units, candidate codes and suggested themes out, each
traceable to the exact words it came from; everything runs offline.

>>> import themesift as ts
>>> corpus = ts.read_corpus("data/sample")      # doctest: +SKIP
>>> units = ts.segment(corpus)                  # doctest: +SKIP
"""

from .errors import FrameworkError, InputError, MissingDependencyError, StoreError, ThemesiftError
from .ingest import read_corpus, read_transcript
from .model import Corpus, MeaningUnit, Transcript, Turn
from .segment import segment, summarize_units

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # ingest and segment
    "read_corpus",
    "read_transcript",
    "segment",
    "summarize_units",
    # data objects
    "Corpus",
    "Transcript",
    "Turn",
    "MeaningUnit",
    # errors
    "ThemesiftError",
    "InputError",
    "FrameworkError",
    "StoreError",
    "MissingDependencyError",
]
