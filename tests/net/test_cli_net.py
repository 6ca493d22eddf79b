"""``lightbox node|echo|find|retrieve|send|listen|config local`` end to end, against the real PACS."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from viewer.cli import main
from viewer.net.nodes import load_config
from viewer.store import Store

from .helpers import CT_COUNT, CT_PATIENT_ID, CT_SERIES, CT_STUDY
from .hostile import QRPeer, free_port

pytestmark = pytest.mark.pacs


def lb(home: Path, *argv: str) -> int:
    return main(["--home", str(home), *argv])


@pytest.fixture
def home(tmp_path: Path, pacs: dict, viewer_scp: dict) -> Path:
    h = tmp_path / "home"
    assert (
        lb(h, "config", "local", "--aet", viewer_scp["aet"], "--port", str(viewer_scp["port"]), "--bind", "127.0.0.1")
        == 0
    )
    assert (
        lb(
            h,
            "node",
            "add",
            "pacs",
            "--aet",
            pacs["PACS_AET"],
            "--host",
            "127.0.0.1",
            "--port",
            pacs["PACS_DICOM_PORT"],
            "--get",
        )
        == 0
    )
    return h


def test_node_and_config_commands(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    h = tmp_path / "h"
    assert (
        lb(
            h,
            "node",
            "add",
            "main",
            "--aet",
            "MAIN",
            "--host",
            "pacs.example",
            "--port",
            "104",
            "--tls",
            "--timeout",
            "30",
        )
        == 0
    )
    assert lb(h, "node", "add", "web", "--url", "https://pacs.example/dicom-web", "--user", "u") == 0
    assert lb(h, "config", "local", "--aet", "LB1", "--port", "11113", "--accept", "CT1", "MR1") == 0
    capsys.readouterr()
    assert lb(h, "node", "ls", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["local"] == {"aet": "LB1", "port": 11113, "bind": "", "accept": ["CT1", "MR1"]}
    assert listed["nodes"] == [
        {"name": "main", "aet": "MAIN", "host": "pacs.example", "port": 104, "retrieve": "move", "tls": True}
    ]
    assert listed["dicomweb"] == [{"name": "web", "url": "https://pacs.example/dicom-web", "auth": "basic"}]
    cfg = load_config(h)
    assert cfg.nodes["main"].dimse_timeout == 30
    assert (h / "nodes.json").stat().st_mode & 0o077 == 0
    assert lb(h, "node", "rm", "main") == 0
    assert "main" not in load_config(h).nodes
    assert lb(h, "node", "add", "bad", "--aet", "A" * 17, "--host", "x", "--port", "1") == 2
    assert lb(h, "echo", "nowhere") == 2
    assert "unknown node 'nowhere'" in capsys.readouterr().err


def test_echo_and_find(home: Path, capsys: pytest.CaptureFixture) -> None:
    assert lb(home, "echo", "pacs") == 0
    assert "OK in" in capsys.readouterr().out
    assert (
        lb(
            home,
            "find",
            "pacs",
            "--patient-id",
            CT_PATIENT_ID,
            "--date",
            "20120101-20121231",
            "--modality",
            "CT",
            "--json",
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert [r["StudyInstanceUID"] for r in out["results"]] == [CT_STUDY]
    assert lb(home, "find", "pacs", "--level", "series", "--study", CT_STUDY) == 0
    table = capsys.readouterr().out
    assert CT_SERIES in table and "Modality" in table.splitlines()[0]


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_into_cache_then_send_back(home: Path, method: str, capsys: pytest.CaptureFixture) -> None:
    assert lb(home, "retrieve", "pacs", "--study", CT_STUDY, "--series", CT_SERIES, "--method", method, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["received"] == CT_COUNT and report["error"] is None
    with Store.open(home) as store:
        rows = store.instances(CT_SERIES)
        assert len(rows) == CT_COUNT
        assert all(Path(r.path).is_file() for r in rows)
    if method == "move":
        return  # sending back once per PACS is enough (storing 134 duplicates takes Orthanc ~10 s)
    assert lb(home, "send", "pacs", "--series", CT_SERIES, "--json") == 0
    sent = json.loads(capsys.readouterr().out)
    assert sent["sent"] == CT_COUNT and sent["failures"] == []


def test_exit_codes_for_failure_and_partial(tmp_path: Path, ct_dir: Path, capsys: pytest.CaptureFixture) -> None:
    import pydicom

    h = tmp_path / "h"
    assert lb(h, "node", "add", "down", "--aet", "X", "--host", "127.0.0.1", "--port", str(free_port())) == 0
    assert lb(h, "echo", "down") == 2
    assert "connection refused" in capsys.readouterr().err
    datasets = [pydicom.dcmread(p) for p in sorted(ct_dir.glob("*.dcm"))[:6]]
    with QRPeer(datasets, mode="abort-after", n=2) as peer:
        assert (
            lb(h, "node", "add", "flaky", "--aet", "HOSTILE", "--host", "127.0.0.1", "--port", str(peer.port), "--get")
            == 0
        )
        code = lb(h, "retrieve", "flaky", "--study", str(datasets[0].StudyInstanceUID), "--to", str(tmp_path / "o"))
    assert code == 1
    err = capsys.readouterr().err
    assert "aborted during C-GET" in err
    assert len(list((tmp_path / "o").glob("*.dcm"))) == 2
    assert lb(h, "send", "down", "--study", "1.2.3") == 2  # nothing cached


def test_listen_receives_a_storescu_push_into_the_cache(tmp_path: Path, mr_dir: Path) -> None:
    h = tmp_path / "h"
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "viewer",
            "--home",
            str(h),
            "listen",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--aet",
            "LBLISTEN",
            "--seconds",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "listening on 127.0.0.1" in line, line + proc.stderr.read()
        files = sorted(mr_dir.glob("*.IMA"))[:10]
        push = subprocess.run(
            [shutil.which("storescu") or "storescu", "-aec", "LBLISTEN", "127.0.0.1", str(port), *map(str, files)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert push.returncode == 0, push.stderr
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "received 10 instances in 1 study" in out
    assert "Facial" not in out  # no patient names on the console log
    time.sleep(0)
    with Store.open(h) as store:
        studies = store.studies()
        assert len(studies) == 1 and studies[0].instance_count == 10


def test_move_uses_the_running_apps_scp(home: Path, local, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The app's SCP holds the local port: the CLI moves to it instead of failing on the port."""
    from viewer.net.sink import FolderSink
    from viewer.net.storescp import StorageSCP

    app_inbox = tmp_path / "app"
    with StorageSCP(local, FolderSink(app_inbox)) as app_scp:
        code = lb(home, "retrieve", "pacs", "--study", CT_STUDY, "--series", CT_SERIES, "--method", "move", "--json")
        assert app_scp.received == CT_COUNT
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "belongs to a running Lightbox storage SCP" in captured.err
    assert json.loads(captured.out)["completed"] == CT_COUNT
    assert len(list(app_inbox.glob("*.dcm"))) == CT_COUNT
    with StorageSCP(local, FolderSink(app_inbox)):  # a folder target cannot go to the app's cache
        assert lb(home, "retrieve", "pacs", "--study", CT_STUDY, "--method", "move", "--to", str(tmp_path / "x")) == 2
    assert "cannot listen on port" in capsys.readouterr().err


def test_resume_fetches_only_what_is_missing(home: Path, pacs: dict, local, capsys: pytest.CaptureFixture) -> None:
    from viewer.net.retrieve import missing_instances, retrieve

    from .helpers import pacs_node

    node = pacs_node(pacs)
    first_five = sorted(missing_instances(node, CT_STUDY, [], local=local)[CT_SERIES])[:5]
    with Store.open(home) as store:
        report = retrieve(
            node,
            CT_STUDY,
            CT_SERIES,
            first_five,
            method="get",
            sink=lambda ds: store.add_dataset(ds, source="test"),
            local=local,
        )
        assert report.received == 5
    capsys.readouterr()
    assert lb(home, "retrieve", "pacs", "--study", CT_STUDY, "--resume", "--json") == 0
    out = capsys.readouterr()
    assert "5 instances already here, 129 to fetch" in out.err
    assert json.loads(out.out)["received"] == CT_COUNT - 5
    with Store.open(home) as store:
        assert len(store.instances(CT_SERIES)) == CT_COUNT
    assert lb(home, "retrieve", "pacs", "--study", CT_STUDY, "--resume") == 0
    assert "134 instances already here, 0 to fetch" in capsys.readouterr().err
