"""The workflow's steps: one function per Snakemake rule, of the rule's name, taking plain
paths and settings.

Each rule runs ``workflow/scripts/{rule}.py``, which only unpacks ``snakemake.input/params``
and calls the step of that name inside :func:`log_to`, so every step can be run and tested
without Snakemake. By concern:

- :mod:`.data`: input data and features (synthetic data, annotated recordings cut into clips,
  log-mel features from audio or .npz, folds);
- :mod:`.training`: pseudo-labels and fold training (stage 1, relabel rounds);
- :mod:`.prediction`: window scores of fold models, the ensemble and submission, predict-only
  and per-recording scores;
- :mod:`.scoring`: each stage's OOF and test scores, and scores.json/scores.csv;
- :mod:`.report`: the report's figures.

Steps that need torch (features, training, prediction) import it inside the function:
torch + timm cost ~5 s per job, which the light steps of the DAG should not pay.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def log_to(path: str | Path) -> Iterator[None]:
    """Send stderr (progress bars, messages, the traceback of a failure) to a rule's log."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as log:
        saved, sys.stderr = sys.stderr, log
        try:
            yield
        except BaseException:
            traceback.print_exc(file=log)
            raise
        finally:
            sys.stderr = saved
