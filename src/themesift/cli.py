"""The `themesift` command: a thin layer of argument checks around the public API."""

from __future__ import annotations

import os

# Models load only from installed packages or local folders. Set before anything can import
# huggingface_hub, or a missed local path costs a minute of retries against the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from . import __version__  # noqa: E402
from .errors import ThemesiftError  # noqa: E402

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 bad input, 2 bad usage)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "command"):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.command(args)
    except ThemesiftError as exc:
        print(f"themesift {args.verb}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("themesift: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="themesift",
        description="NLP-assisted theme discovery for focus-group transcripts, offline.",
        epilog="Run 'themesift COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"themesift {__version__}")
    verbs = parser.add_subparsers(title="commands", metavar="COMMAND")

    seg = verbs.add_parser(
        "segment",
        help="read transcripts and cut them into meaning units",
        description="Read transcripts (.txt, .md, .docx, .vtt, .srt, or a folder of them), cut "
        "participants' turns into meaning units and print one summary row per transcript.",
    )
    seg.add_argument("inputs", nargs="+", metavar="INPUT", help="transcript file or folder")
    seg.add_argument("--out", metavar="FILE.csv", help="write the meaning units to this CSV file")
    _add_reading_options(seg)
    seg.add_argument("--min-words", type=int, default=None, metavar="N",
                     help="shorter stretches join a neighbouring sentence (default 8)")
    seg.add_argument("--max-words", type=int, default=None, metavar="N",
                     help="longer units are split (default 80)")
    seg.add_argument("--include-moderator", action="store_true",
                     help="keep the moderator's turns as units too")
    seg.add_argument("--include-backchannels", action="store_true",
                     help='keep turns that are only back-channels ("Mm.", "Yes, exactly.")')
    seg.set_defaults(command=_segment, verb="segment")
    return parser


def _add_reading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--moderator", action="append", metavar="NAME",
        help="speaker label of the moderator (repeat for several); by default Moderator, "
        "Interviewer, Facilitator and similar",
    )
    parser.add_argument("--encoding", metavar="NAME",
                        help="text encoding of .txt/.vtt/.srt files (default: detected)")


def _segment(args: argparse.Namespace) -> int:
    from .ingest import read_corpus
    from .segment import MAX_WORDS, MIN_WORDS, segment, summarize_units

    corpus = read_corpus(args.inputs, moderator=args.moderator, encoding=args.encoding)
    units = segment(
        corpus,
        min_words=MIN_WORDS if args.min_words is None else args.min_words,
        max_words=MAX_WORDS if args.max_words is None else args.max_words,
        include_moderator=args.include_moderator,
        include_backchannels=args.include_backchannels,
    )
    print(_format_table(summarize_units(corpus, units)))
    if args.out:
        units.to_csv(args.out, index=False)
        print(f"\n{len(units)} meaning units written to {args.out}")
    return EXIT_OK


def _format_table(frame) -> str:
    """A DataFrame as a markdown table (numbers right-aligned), without extra dependencies."""
    header = [str(c) for c in frame.columns]
    body = [[str(v) for v in row] for row in frame.itertuples(index=False)]
    numeric = [frame[c].dtype.kind in "iuf" for c in frame.columns]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(
            c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)
        ) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2))
                          for w, num in zip(widths, numeric)) + "|"
    return "\n".join([line(header), rule, *map(line, body)])


if __name__ == "__main__":
    sys.exit(main())
