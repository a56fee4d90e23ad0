"""themesift: NLP-assisted theme discovery for qualitative research.

Focus-group transcripts in, meaning units, candidate codes and suggested themes out, each
traceable to the exact words it came from; everything runs offline.

>>> import themesift as ts
>>> corpus = ts.read_corpus("data/sample")      # doctest: +SKIP
>>> units = ts.segment(corpus)                  # doctest: +SKIP
"""

from ._version import __version__
from .errors import FrameworkError, InputError, MissingDependencyError, StoreError, ThemesiftError
from .compare import (
    AgreementReport,
    CodeMatchReport,
    CoderAgreement,
    align_spans,
    character_agreement,
    compare,
    compare_codes,
    compare_coders,
)
from .discover import discover_codes
from .embed import Embedder
from .embed import FineTuning
from .finetune import fine_tune
from .export import codesheet, export_codesheet, export_qdc, export_qdpx, export_report, saturation
from .frameworks import check_framework, describe_framework, list_frameworks, load_framework
from .ingest import QdaProject, read_corpus, read_qdpx, read_table, read_transcript
from .model import (CandidateCode, CandidateCodes, Corpus, Decision, Framework, MeaningUnit,
                    Suggestion, Theme, Transcript, Turn)
from .outputs import write_outputs
from .pipeline import PipelineResult, run_pipeline
from .propose import propose, score_themes, suggest_table, suggest_units
from .pseudonymise import Pseudonyms, find_pseudonyms, pseudonymise, write_pseudonym_map
from .review.widget import ReviewWidget, review
from .segment import segment, summarize_units
from .study import Run, Study

__all__ = [
    "__version__",
    # ingest and segment
    "read_corpus",
    "read_transcript",
    "read_table",
    "read_qdpx",
    "QdaProject",
    "segment",
    "summarize_units",
    # embeddings and candidate codes
    "Embedder",
    "discover_codes",
    # suggestions
    "suggest_units",
    "suggest_table",
    "propose",
    "score_themes",
    "fine_tune",
    "FineTuning",
    # the whole pipeline
    "run_pipeline",
    "write_outputs",
    "PipelineResult",
    # machine vs human
    "compare",
    "compare_coders",
    "align_spans",
    "character_agreement",
    "compare_codes",
    "CodeMatchReport",
    "AgreementReport",
    "CoderAgreement",
    # the Study store
    "Study",
    "Run",
    "review",
    "ReviewWidget",
    # frameworks
    "load_framework",
    "check_framework",
    "list_frameworks",
    "describe_framework",
    # exports
    "export_qdpx",
    "export_qdc",
    "export_codesheet",
    "codesheet",
    "export_report",
    "saturation",
    "pseudonymise",
    "find_pseudonyms",
    "write_pseudonym_map",
    "Pseudonyms",
    # data objects
    "Corpus",
    "Transcript",
    "Turn",
    "MeaningUnit",
    "Theme",
    "Framework",
    "CandidateCode",
    "CandidateCodes",
    "Suggestion",
    "Decision",
    # errors
    "ThemesiftError",
    "InputError",
    "FrameworkError",
    "StoreError",
    "MissingDependencyError",
]
