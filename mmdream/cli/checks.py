"""The command line's own check of a parsed command, before any work starts: what only the command line takes.
Every option the API takes is checked by the API's spec (mmdream.specs), once, whichever front end made it."""

from __future__ import annotations

import argparse

from mmdream.checks import check_output


def validate(args: argparse.Namespace) -> None:
    """The command line's own options; raises UserError on the first problem."""
    if getattr(args, "report", None):
        check_output(args.report, {".json"}, "the --report")
