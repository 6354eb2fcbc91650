"""core.warmup: a server process loads the kernels without building the ahead-of-time parser."""

from __future__ import annotations

from core.ingest import _clf_aot
from core.warmup import warm_up


def test_warm_up_without_build_loads_the_kernels_and_builds_nothing(monkeypatch):
    def no_build(*args, **kwargs):
        raise AssertionError("warm_up(build=False) must not build the ahead-of-time parser")

    monkeypatch.setattr(_clf_aot, "build", no_build)
    done = warm_up(build=False)
    assert set(done.seconds) == {"log parsers", "simulator"}
    assert done.notes == []
    from core.ingest._clf_kernel import parse_lines
    from core.scaling import kernel

    assert parse_lines.signatures  # loaded (or compiled) into this process
    assert any(getattr(f, "signatures", None) for f in vars(kernel).values() if hasattr(f, "py_func"))
