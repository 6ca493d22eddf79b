"""Test setup shared by every test module.

* GUI: Qt and VTK run headless (recipe in ../shared/gui-testing.md). ``GUI_TEST_MODE=xvfb``
  (default when Xvfb is installed) starts a private 24-bit Xvfb that dies with pytest;
  ``display`` uses $DISPLAY; ``offscreen`` uses Qt's offscreen platform and VTK on OSMesa.
* Data and peers come from ``../shared`` beside the repository: real DICOM files and scripts
  that start real PACS servers. A missing ``../shared`` fails loudly instead of skipping.
* Every test gets a throwaway Lightbox home through ``LIGHTBOX_HOME``.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def _die_with_parent() -> None:
    # Xvfb gets SIGTERM when pytest exits, even after a segfault. Never kill it from Python:
    # Qt/VTK hold X connections until interpreter exit and Xlib would exit(1) after the run.
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _start_xvfb(geometry: str = "1280x1024x24") -> tuple[subprocess.Popen, str]:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", geometry, "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,),
        preexec_fn=_die_with_parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as f:  # Xvfb writes its display number once it accepts clients
        number = f.readline().strip()
    if not number:
        proc.kill()
        raise pytest.UsageError("Xvfb did not start")
    return proc, f":{number}"


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    mode = os.environ.get("GUI_TEST_MODE") or ("xvfb" if shutil.which("Xvfb") else "offscreen")
    if mode == "xvfb":
        config.xvfb_proc, os.environ["DISPLAY"] = _start_xvfb()
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        os.environ.pop("VTK_DEFAULT_OPENGL_WINDOW", None)
    elif mode == "display":
        if not os.environ.get("DISPLAY"):
            raise pytest.UsageError("GUI_TEST_MODE=display but DISPLAY is not set")
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        os.environ.pop("VTK_DEFAULT_OPENGL_WINDOW", None)
    elif mode == "offscreen":
        os.environ.pop("DISPLAY", None)  # with DISPLAY set, VTK picks X and hits BadWindow
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkOSOpenGLRenderWindow"
    else:
        raise pytest.UsageError(f"GUI_TEST_MODE must be xvfb, display or offscreen, not {mode!r}")
    config.gui_mode = mode


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"gui: {config.gui_mode}, DISPLAY={os.environ.get('DISPLAY')}, "
        f"QT_QPA_PLATFORM={os.environ.get('QT_QPA_PLATFORM')}, shared={SHARED}"
    )


@pytest.fixture(autouse=True)
def lightbox_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway Lightbox home for every test: nothing touches the user's real cache."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("LIGHTBOX_HOME", str(home))
    return home


# --- real data -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "data").is_dir():
        pytest.fail(f"{SHARED} is missing: tests need ../shared (real DICOM data and PACS scripts)")
    return SHARED


@pytest.fixture(scope="session")
def data_dir(shared_dir: Path) -> Path:
    return shared_dir / "data"


@pytest.fixture(scope="session")
def pacs_dir(shared_dir: Path) -> Path:
    return shared_dir / "pacs"


@pytest.fixture(scope="session")
def ct_dir(data_dir: Path) -> Path:
    """134 axial CT slices, Implicit VR LE (TCIA Pancreas-CT-CB_001)."""
    return data_dir / "ct-pancreas-tcia"


@pytest.fixture(scope="session")
def mr_dir(data_dir: Path) -> Path:
    """100 coronal MR slices, .IMA names (CTK MRHead)."""
    return data_dir / "mr-head-ctk"


# --- real PACS peers -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            env[key.removeprefix("export ").strip()] = value.strip().strip("'\"")
    return env


@pytest.fixture(scope="session")
def viewer_scp() -> dict[str, str | int]:
    """AE title and port the viewer's storage SCP uses; both PACS know it as a move destination."""
    return {"aet": "LIGHTBOX", "port": free_port()}


def _pacs_env(viewer_scp: dict) -> dict[str, str]:
    return dict(os.environ, VIEWER_AET=str(viewer_scp["aet"]), VIEWER_PORT=str(viewer_scp["port"]))


def _start_pacs(
    pacs_dir: Path, kind: str, folder: Path, args: list[str], load: list[Path], env: dict[str, str]
) -> dict[str, str]:
    up = subprocess.run(
        [str(pacs_dir / f"{kind}-up"), str(folder), *args], env=env, capture_output=True, text=True
    )
    if up.returncode != 0:
        pytest.fail(f"{kind}-up failed ({up.returncode}):\n{up.stdout}\n{up.stderr}")
    if load:
        loaded = subprocess.run(
            [str(pacs_dir / f"{kind}-load"), str(folder), *map(str, load)],
            env=env,
            capture_output=True,
            text=True,
        )
        if loaded.returncode != 0:
            subprocess.run([str(pacs_dir / f"{kind}-down"), str(folder)], env=env)
            pytest.fail(f"{kind}-load failed:\n{loaded.stdout}\n{loaded.stderr}")
    return _read_env(folder / "pacs.env")


@pytest.fixture(scope="session")
def orthanc(
    tmp_path_factory: pytest.TempPathFactory, pacs_dir: Path, data_dir: Path, viewer_scp: dict
) -> Iterator[dict[str, str]]:
    """A real Orthanc (with DICOMweb) on loopback, loaded with the real CT and MR series.

    Yields its pacs.env: PACS_AET, PACS_HOST, PACS_DICOM_PORT, PACS_HTTP_PORT, PACS_URL, ...
    """
    folder = tmp_path_factory.mktemp("orthanc")
    env = _pacs_env(viewer_scp)
    cfg = _start_pacs(
        pacs_dir, "orthanc", folder, ["auto", "auto", "ORTHANC"],
        [data_dir / "ct-pancreas-tcia", data_dir / "mr-head-ctk"], env,
    )
    try:
        yield cfg
    finally:
        subprocess.run([str(pacs_dir / "orthanc-down"), str(folder)], env=env, capture_output=True)


@pytest.fixture(scope="session")
def dcmqrscp(
    tmp_path_factory: pytest.TempPathFactory, pacs_dir: Path, data_dir: Path, viewer_scp: dict
) -> Iterator[dict[str, str]]:
    """A real DCMTK dcmqrscp on loopback, loaded with the real CT and MR series."""
    folder = tmp_path_factory.mktemp("dcmqrscp")
    env = _pacs_env(viewer_scp)
    cfg = _start_pacs(
        pacs_dir, "dcmqrscp", folder, ["auto", "DCMQRSCP"],
        [data_dir / "ct-pancreas-tcia", data_dir / "mr-head-ctk"], env,
    )
    try:
        yield cfg
    finally:
        subprocess.run([str(pacs_dir / "dcmqrscp-down"), str(folder)], env=env, capture_output=True)


@pytest.fixture(scope="session", params=["orthanc", "dcmqrscp"])
def pacs(request: pytest.FixtureRequest) -> dict[str, str]:
    """Each real PACS in turn: a test using this runs against both servers."""
    cfg = dict(request.getfixturevalue(request.param))
    cfg["KIND"] = request.param
    return cfg
