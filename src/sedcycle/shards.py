"""Gathering what shard jobs wrote (execution.shards) into the outputs one job writes.

A shard holds the recordings whose id hashes to it (:func:`sedcycle.recordings.shard_of`).
Each shard job writes its recordings' features or prediction tables; the gather steps put
them together in recording-id order, the order one job over every recording writes, so the
gathered files are byte for byte those of an unsharded run.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def in_recording_order(tables: list[pd.DataFrame], what: str) -> pd.DataFrame:
    """The rows of every table, ordered by recording_id (sorted), each recording's rows in
    their own order. Tables without rows (a shard without recordings) are left out; raises
    ValueError naming ``what`` when no table has rows or a recording is in two tables."""
    tables = [table for table in tables if len(table)]
    if not tables:
        raise ValueError(f"{what}: no shard holds a recording")
    seen: dict[str, int] = {}
    for index, table in enumerate(tables):
        for rec in table["recording_id"].unique():
            if rec in seen:
                raise ValueError(f"{what}: recording {rec} is in two shards")
            seen[rec] = index
    table = pd.concat(tables, ignore_index=True)
    rank = {rec: i for i, rec in enumerate(sorted(seen))}
    order = np.argsort(table["recording_id"].map(rank).to_numpy(), kind="stable")
    return table.iloc[order].reset_index(drop=True)


def link_files(names: list[str], sources: dict[str, Path], out_dir: Path) -> None:
    """Hard-link ``sources[name]`` to ``out_dir/name`` for each name (no data copied); where
    the file system has no hard links, copy them, and say so on stderr."""
    out_dir.mkdir(parents=True, exist_ok=True)
    copying = False
    for name in names:
        target = out_dir / name
        if not copying:
            try:
                os.link(sources[name], target)
                continue
            except OSError as error:
                copying = True
                print(
                    f"cannot hard-link {sources[name]} into {out_dir} ({error}): copying the "
                    "shards' files instead (same bytes, twice the disk)",
                    file=sys.stderr,
                )
        shutil.copyfile(sources[name], target)
