"""Data files that are there but broken: named with the underlying error, never "not found";
scikit-learn cache pickles are checked against the official SHA-256 before unpickling."""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from lossbench.app import run
from lossbench.data import DataFileError
from lossbench.data.errors import OFFICIAL_SHA256, sha256
from lossbench.data.images import read_idx
from lossbench.tasks.supervised.data import california, spambase
from tests.conftest import SHARED_DATA, compose_config
from tests.fakedata import fake_spambase, write_idx

OFFICIAL = SHARED_DATA / "scikit_learn_data" / "cal_housing_py3.pkz"
SPLIT = dict(val_fraction=0.2, test_fraction=0.2, split_seed=0)
CLEAN = dict(outlier_fraction=0.0, outlier_scale_min=1.0, outlier_scale_max=1.0,
             standardize_target=True)
needs_official = pytest.mark.skipif(not OFFICIAL.exists(), reason="no official sklearn cache")


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "scikit_learn_data"
    home.mkdir()
    return home


@needs_official
def test_the_official_caches_have_the_recorded_digests():
    for name, digest in OFFICIAL_SHA256.items():
        assert sha256(OFFICIAL.parent / name) == digest


@needs_official
def test_a_corrupt_cache_file_is_named_and_refused_not_reported_missing(tmp_path):
    raw = bytearray(OFFICIAL.read_bytes())
    raw[len(raw) // 2: len(raw) // 2 + 64] = bytes(64)  # zeroed block: zlib would fail
    (_home(tmp_path) / OFFICIAL.name).write_bytes(bytes(raw))
    with pytest.raises(DataFileError) as e:
        california(data_dir=str(tmp_path), download=False, **SPLIT, **CLEAN)
    msg = str(e.value)
    assert str(tmp_path / "scikit_learn_data" / OFFICIAL.name) in msg
    assert "not the official" in msg and "can run code" in msg and "download=true" in msg
    assert "not found" not in msg and "\n" not in msg


def test_a_crafted_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (_home(tmp_path) / "cal_housing_py3.pkz").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(DataFileError, match="will not unpickle it"):
        california(data_dir=str(tmp_path), download=True, **SPLIT, **CLEAN)
    assert not marker.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads anything")
def test_an_unreadable_cache_file_names_the_os_error(tmp_path):
    path = _home(tmp_path) / "olivetti_py3.pkz"
    path.write_bytes(b"x")
    path.chmod(0)
    from lossbench.tasks.pairs.data import olivetti
    with pytest.raises(DataFileError, match=f"cannot read {path}: PermissionError"):
        olivetti(data_dir=str(tmp_path), download=False)


@needs_official
def test_the_official_cache_loads(tmp_path):
    shutil.copy(OFFICIAL, _home(tmp_path) / OFFICIAL.name)
    s = california(data_dir=str(tmp_path), download=False, **SPLIT, **CLEAN)
    assert len(s.y_train) + len(s.y_val) + len(s.y_test) == 20640


@needs_official
def test_a_single_run_on_a_corrupt_cache_is_a_data_file_error(tmp_path):
    (_home(tmp_path) / OFFICIAL.name).write_bytes(OFFICIAL.read_bytes()[:1000])  # truncated
    with pytest.raises(DataFileError, match="cal_housing_py3.pkz is not the official"):
        run(compose_config("scenario=house_price", f"data_dir={tmp_path}", "download=false",
                           "tracking.enabled=false"))


@pytest.mark.parametrize("edit, where", [
    (lambda lines: lines.__setitem__(4, lines[4].replace("0.", "x.", 1)),
     "line 5, column 1: 'x."),
    (lambda lines: lines.__setitem__(7, lines[7][:40]), "line 8 has 6 columns, expected 58"),
])
def test_a_spambase_parse_error_names_the_file_row_and_column(tmp_path, edit, where):
    fake_spambase(tmp_path, n=20)
    path = tmp_path / "spambase" / "spambase.data"
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFileError) as e:
        spambase(data_dir=str(tmp_path), download=False, **SPLIT, num_classes=2, positive_rate=None,
                 label_noise=0.0, train_positive_rate=None)
    msg = str(e.value)
    assert str(path) in msg and where in msg and "\n" not in msg, msg


def test_a_truncated_or_broken_idx_file_is_named(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    write_idx(path, np.zeros((10, 28, 28), np.uint8))
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DataFileError, match=rf"{path}: .*shape \(10, 28, 28\).*item 9"):
        read_idx(path)
    path.write_bytes(path.read_bytes()[:50])  # a cut gzip stream
    with pytest.raises(DataFileError, match=f"cannot read {path}"):
        read_idx(path)
