"""The distributions carry the license they declare: the Apache-2.0 text is in the sdist, and
in the wheel built from that sdist (as a release builds it), and the metadata points at it.

Built with hatchling's builders in this process (no build isolation, no network), pure
Python only: a fraction of a second.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("hatchling")

from hatchling.builders.sdist import SdistBuilder
from hatchling.builders.wheel import WheelBuilder

ROOT = Path(__file__).resolve().parents[1]


def _license_text() -> str:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    return text


def _build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The sdist from the checkout, then the wheel from the unpacked sdist."""
    monkeypatch.delenv("HATCH_BUILD_HOOK_ENABLE_MYPYC", raising=False)
    [sdist] = SdistBuilder(str(ROOT)).build(directory=str(tmp_path / "dist"))
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    [source] = (tmp_path / "unpacked").iterdir()
    [wheel] = WheelBuilder(str(source)).build(directory=str(tmp_path / "dist"))
    return Path(sdist), Path(wheel)


def test_sdist_and_wheel_ship_the_apache_license(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _license_text()
    sdist, wheel = _build(tmp_path, monkeypatch)
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        member = archive.extractfile(f"{top}/LICENSE")
        assert member is not None and member.read().decode() == text
        pkg_info = archive.extractfile(f"{top}/PKG-INFO")
        assert pkg_info is not None
        sdist_metadata = pkg_info.read().decode()
    with zipfile.ZipFile(wheel) as archive:
        [dist_info] = {n.split("/")[0] for n in archive.namelist() if ".dist-info/" in n}
        assert archive.read(f"{dist_info}/licenses/LICENSE").decode() == text
        wheel_metadata = archive.read(f"{dist_info}/METADATA").decode()
    for metadata in (sdist_metadata, wheel_metadata):
        assert "License-Expression: Apache-2.0" in metadata
        assert "License-File: LICENSE" in metadata
