import pandas as pd
import pytest

from sedcycle.files import atomic_path, write_csv


def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert path.read_text() == "old\n" and list(tmp_path.iterdir()) == [path]


def test_write_csv_replaces(tmp_path):
    path = tmp_path / "sub" / "out.csv"
    write_csv(pd.DataFrame({"a": [1]}), path, index=False)
    assert path.read_text() == "a\n1\n"
