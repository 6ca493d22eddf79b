"""``lightbox import | ls | export | rm``: JSON schema, exit codes, and the real media."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from viewer.cli import main

IMPORT_KEYS = {"command", "scanned", "imported", "duplicate", "conflict", "skipped", "failed", "bytes",
               "failures", "conflicts", "skipped_files", "warnings", "study_uids", "cancelled"}
STUDY_KEYS = {"study_uid", "patient_name", "patient_id", "issuer", "birth_date", "sex", "study_date",
              "study_time", "description", "accession", "referring_physician", "study_id", "modalities",
              "series_count", "instance_count", "bytes", "series", "id_collision"}
SERIES_KEYS = {"series_uid", "number", "description", "modality", "body_part", "frame_of_reference_uid",
               "instance_count"}


def run(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, dict | str]:
    code = main(["--home", str(home), *args])
    out = capsys.readouterr().out
    return code, (json.loads(out) if "--json" in args else out)


def test_import_ls_export_rm(capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path, messy) -> None:
    home = tmp_path / "home"
    code, report = run(capsys, home, "import", str(data_dir / "dicomdir-charsets"), "--json")
    assert code == 0
    assert set(report) == IMPORT_KEYS and report["command"] == "import"
    assert (report["scanned"], report["imported"], len(report["study_uids"])) == (12, 11, 11)

    code, report = run(capsys, home, "import", str(messy.root), "--json")
    assert code == 1  # partial: two truncated files failed, one conflict
    assert (report["imported"], report["failed"], report["conflict"]) == (16, 2, 1)
    assert {Path(f["path"]).name for f in report["failures"]} == {"cut_pixels.dcm", "cut_header.dcm"}
    assert all(set(f) == {"path", "reason"} for f in report["failures"] + report["skipped_files"])

    code, listing = run(capsys, home, "ls", "--json")
    assert code == 0 and listing["command"] == "ls"
    assert len(listing["studies"]) == 14
    for study in listing["studies"]:
        assert set(study) == STUDY_KEYS
        assert all(set(se) == SERIES_KEYS for se in study["series"])
        assert study["instance_count"] == sum(se["instance_count"] for se in study["series"])
    assert listing["disk_usage"]["total_bytes"] == sum(s["bytes"] for s in listing["studies"])

    code, listing = run(capsys, home, "ls", "--patient", "JÉRÔME", "--json")
    assert [s["patient_name"] for s in listing["studies"]] == ["Buc^Jérôme"]
    code, listing = run(capsys, home, "ls", "--modality", "CT", "--json")
    assert [s["instance_count"] for s in listing["studies"]] == [5]
    code, listing = run(capsys, home, "ls", "--description", "pancreas", "--from", "20120101", "--json")
    assert [s["description"] for s in listing["studies"]] == ["PANCREAS"]
    code, text = run(capsys, home, "ls", "--patient", "山田*")
    assert code == 0 and text.count("\n") == 2 and "山田" in text

    japanese = next(s for s in run(capsys, home, "ls", "--json")[1]["studies"] if "山田" in s["patient_name"]
                    and "ﾔﾏﾀﾞ" not in s["patient_name"])
    code, exported = run(capsys, home, "export", japanese["study_uid"], "--to", str(tmp_path / "cd"),
                         "--dicomdir", "--anonymize", "--json")
    assert code == 0
    assert set(exported) == {"command", "study_uid", "destination", "files", "bytes", "dicomdir",
                             "deidentified", "warnings"}
    assert exported["files"] == 1 and exported["deidentified"] and exported["study_uid"] != japanese["study_uid"]
    assert (tmp_path / "cd" / "DICOMDIR").is_file()
    dump = subprocess.run(["dcmdump", "-q", str(tmp_path / "cd" / "DICOMDIR")], capture_output=True, text=True)
    assert dump.returncode == 0 and "山田" not in dump.stdout and "Yamada" not in dump.stdout

    code, removed = run(capsys, home, "rm", japanese["study_uid"], "--json")
    assert (code, removed) == (0, {"command": "rm", "study_uid": japanese["study_uid"], "files_deleted": 1})
    assert len(run(capsys, home, "ls", "--json")[1]["studies"]) == 13


def test_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert main(["--home", str(home), "import", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["--home", str(home), "rm", "1.2.3"]) == 2
    assert "not in the cache" in capsys.readouterr().err
    assert main(["--home", str(home), "export", "1.2.3", "--to", str(tmp_path / "x")]) == 2
    assert main(["--home", str(home), "export", "1.2.3", "--to", str(tmp_path / "x"), "--keep-dates"]) == 2
    with pytest.raises(SystemExit) as exc:  # argparse usage errors exit 2 as well
        main(["--home", str(home), "export", "1.2.3"])
    assert exc.value.code == 2


def test_json_output_is_utf8_from_a_real_process(tmp_path: Path, data_dir: Path) -> None:
    """The console script path: names in every character set survive stdout as UTF-8 JSON."""
    home = tmp_path / "home"
    proc = subprocess.run([sys.executable, "-m", "viewer", "--home", str(home), "import",
                           str(data_dir / "dicomdir-charsets"), "--json"], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, "-m", "viewer", "--home", str(home), "ls", "--json"],
                          capture_output=True, env={"PYTHONIOENCODING": "utf-8", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    names = {s["patient_name"] for s in json.loads(proc.stdout.decode("utf-8"))["studies"]}
    assert "Hong^Gildong=洪^吉洞=홍^길동" in names and "قباني^لنزار" in names and len(names) == 11


def test_usage_errors_and_nothing_found(capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path) -> None:
    home = tmp_path / "home"
    for bad in (("--from", "garbage"), ("--to", "2020-13-01"), ("--from", "2021")):
        assert main(["--home", str(home), "ls", *bad]) == 2, bad
        assert f"{bad[0]} {bad[1]!r}" in capsys.readouterr().err
    assert main(["--home", str(home), "ls", "--from", "2020-01-31", "--to", "20991231"]) == 0  # both forms
    # --home after the command too, and it is the home that is used
    (tmp_path / "no_dicom").mkdir()
    (tmp_path / "no_dicom" / "readme.txt").write_text("no images here")
    code = main(["import", str(tmp_path / "no_dicom"), "--json", "--home", str(home)])
    captured = capsys.readouterr()
    assert code == 2 and "no DICOM files found" in captured.err
    assert json.loads(captured.out)["skipped"] == 1  # the report is still printed
    assert main(["import", str(data_dir / "dicomdir-charsets" / "DICOMDIR"), "--home", str(home)]) == 0
    capsys.readouterr()
    assert (home / "index.sqlite").is_file()
    assert main(["ls", "--home", str(home), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["studies"]) == 11
    assert main(["--home", str(tmp_path / "other"), "ls", "--json"]) == 0  # before the command still works
    assert json.loads(capsys.readouterr().out)["studies"] == []


@pytest.mark.parametrize("command", [["import", "--json", "CT"], ["ls"]])
def test_a_closed_stdout_ends_quietly(tmp_path: Path, ct_dir: Path, command: list[str]) -> None:
    """``lightbox import --json FILE | head``: no BrokenPipeError traceback when the reader is gone.

    ``true`` exits at once, long before Lightbox has started and written its output."""
    home = tmp_path / "home"
    subprocess.run([sys.executable, "-m", "viewer", "--home", str(home), "import", str(ct_dir)], check=True,
                   capture_output=True)
    argv = " ".join(str(ct_dir) if a == "CT" else a for a in command)
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", f"{sys.executable} -m viewer --home {home} {argv} | true"],
                          capture_output=True, text=True)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert proc.returncode == 141  # as for a program stopped by SIGPIPE (documented)


def test_ctrl_c_cancels_the_import_and_still_reports(tmp_path: Path, ct_dir: Path, mr_dir: Path) -> None:
    """SIGINT once the first batch is indexed: the import stops after the batch being written,
    prints its JSON report with "cancelled": true and exits 2; what was committed stays."""
    import signal
    import sqlite3
    import time

    home = tmp_path / "home"
    proc = subprocess.Popen([sys.executable, "-m", "viewer", "--home", str(home), "import", str(ct_dir), str(mr_dir),
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            conn = sqlite3.connect(f"file:{home / 'index.sqlite'}?mode=ro", uri=True, timeout=0.05)
            indexed = conn.execute("SELECT count(*) FROM instance").fetchone()[0]
            conn.close()
        except sqlite3.Error:
            indexed = 0
        if indexed:
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.002)
    out, err = proc.communicate(timeout=120)
    report = json.loads(out)
    assert proc.returncode == 2, err
    assert report["cancelled"] is True and 0 < report["imported"] < 234, report
    assert "cancelled" in err and "Traceback" not in err
    code = main(["--home", str(home), "ls", "--json"])
    assert code == 0


def test_readme_documents_every_cache_command_option() -> None:
    """The README's CLI reference names every option of import/ls/export/rm and the ZIP path form."""
    import argparse

    from viewer.cli import build_parser

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    reference = readme[readme.index("### Headless"):readme.index("## Layout")]
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name in ("import", "ls", "export", "rm"):
        for action in commands[name]._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert option in reference, f"{name} {option}"
    assert "ARCHIVE!MEMBER" in reference and '"cancelled":bool' in reference and "141" in reference
