"""Network commands: ``lightbox node | echo | find | retrieve | send | listen | config local``.

The same ``viewer.net`` calls the Q/R panel makes, for scripts and for checking a PACS from a
terminal. Nodes live in ``HOME/nodes.json`` (shared with the settings dialog). A node is a
DIMSE peer (``--aet/--host/--port``) or a DICOMweb service (``--url``); echo, find, retrieve
and send work on both.

Exit codes: 0 success; 1 partial (some instances failed, or the peer stopped half way; the
reason is printed); 2 failure (nothing done: refused, rejected, timeout, unknown node, ...).

``lightbox find NODE --json`` prints one JSON object::

    {"command": "find", "node": str, "level": "STUDY"|"SERIES"|"IMAGE",
     "results": [{KEYWORD: str | [str], ...}]}   # DICOM keywords as returned by the peer

``lightbox retrieve ... --json`` and ``lightbox send ... --json`` print the report::

    {"command": "retrieve", "node": str, "method": "get"|"move"|"wado", "received": int,
     "completed": int, "failed": int, "warning": int, "status": int|null, "cancelled": bool,
     "failed_sop_uids": [str], "error": str|null, "seconds": float}
    {"command": "send", "node": str, "total": int, "sent": int, "converted": int,
     "warning": int, "failures": [{"item": str, "reason": str}], "error": str|null,
     "seconds": float}
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from viewer.core.errors import LightboxError
from viewer.core.home import lightbox_home
from viewer.core.tasks import CancelToken, Progress
from viewer.net import dicomweb
from viewer.net.echo import echo
from viewer.net.errors import PortInUse
from viewer.net.find import FindQuery, as_list, find
from viewer.net.nodes import DicomWebNode, LocalSettings, NetConfig, RemoteNode, load_config, save_config
from viewer.net.retrieve import RetrieveReport, missing_instances, retrieve
from viewer.net.send import SendReport, send
from viewer.net.sink import FolderSink, InstanceSink
from viewer.net.storescp import StorageSCP

EXIT_OK, EXIT_PARTIAL, EXIT_FAILURE = 0, 1, 2

COLUMNS = {
    "STUDY": (
        "PatientName",
        "PatientID",
        "StudyDate",
        "ModalitiesInStudy",
        "AccessionNumber",
        "StudyDescription",
        "NumberOfStudyRelatedInstances",
        "StudyInstanceUID",
    ),
    "SERIES": (
        "PatientName",
        "StudyDate",
        "Modality",
        "SeriesNumber",
        "SeriesDescription",
        "NumberOfSeriesRelatedInstances",
        "SeriesInstanceUID",
    ),
    "IMAGE": ("InstanceNumber", "SOPClassUID", "SeriesInstanceUID", "SOPInstanceUID"),
}


def register(commands: argparse._SubParsersAction) -> None:
    node = commands.add_parser("node", help="list, add or remove PACS / DICOMweb nodes")
    node_cmds = node.add_subparsers(dest="node_command", metavar="ACTION", required=True)
    add = node_cmds.add_parser("add", help="add (or replace) a node")
    add.add_argument("name")
    add.add_argument("--aet", help="the node's AE title (DIMSE)")
    add.add_argument("--host", help="host name or address (DIMSE)")
    add.add_argument("--port", type=int, help="DICOM port (DIMSE)")
    add.add_argument("--get", action="store_true", help="retrieve with C-GET (default C-MOVE)")
    add.add_argument("--tls", action="store_true", help="use TLS (PS3.15 B.1)")
    add.add_argument("--tls-ca", metavar="PEM", help="CA bundle to verify the node (default: system store)")
    add.add_argument("--tls-cert", metavar="PEM", help="our client certificate")
    add.add_argument("--tls-key", metavar="PEM", help="our client key")
    add.add_argument("--no-check-hostname", action="store_true", help="TLS: do not match the host name")
    add.add_argument("--max-pdu", type=int, default=0, help="maximum PDU we receive (0 = unlimited)")
    add.add_argument("--timeout", type=float, metavar="S", help="DIMSE timeout in seconds (default 60)")
    add.add_argument("--url", help="DICOMweb service root, e.g. http://host:8042/dicom-web")
    add.add_argument("--user", help="DICOMweb: HTTP Basic user name")
    add.add_argument("--password-env", metavar="VAR", help="DICOMweb: read the password from this variable")
    add.add_argument("--token-env", metavar="VAR", help="DICOMweb: read a Bearer token from this variable")
    add.set_defaults(func=run_node_add)
    ls = node_cmds.add_parser("ls", help="list nodes and the local AE")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_node_ls)
    rm = node_cmds.add_parser("rm", help="remove a node")
    rm.add_argument("name")
    rm.set_defaults(func=run_node_rm)

    p = commands.add_parser("echo", help="verify a node (C-ECHO, or a QIDO-RS request for DICOMweb)")
    p.add_argument("node")
    p.set_defaults(func=run_echo)

    p = commands.add_parser("find", help="search a node (C-FIND / QIDO-RS)")
    p.add_argument("node")
    p.add_argument("--level", choices=["study", "series", "image"], default="study")
    p.add_argument("--patient-name", default="", help="wildcards * and ? allowed")
    p.add_argument("--patient-id", default="")
    p.add_argument("--date", default="", metavar="FROM-TO", help="YYYYMMDD, FROM-TO, FROM- or -TO")
    p.add_argument("--modality", default="")
    p.add_argument("--accession", default="")
    p.add_argument("--description", default="", help="study (or, below STUDY level, series) description")
    p.add_argument("--study", default="", metavar="UID")
    p.add_argument("--series", default="", metavar="UID")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_find)

    p = commands.add_parser("retrieve", help="fetch a study or series into the cache (C-MOVE / C-GET / WADO-RS)")
    p.add_argument("node")
    p.add_argument("--study", required=True, metavar="UID")
    p.add_argument("--series", metavar="UID")
    p.add_argument("--method", choices=["move", "get"], help="default: the node's setting")
    p.add_argument("--to", metavar="DIR", help="write files into DIR instead of the cache")
    p.add_argument(
        "--resume",
        action="store_true",
        help="fetch only instances not yet in the cache (or DIR): finishes an interrupted retrieve",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_retrieve)

    p = commands.add_parser("send", help="send a cached study or series to a node (C-STORE / STOW-RS)")
    p.add_argument("node")
    p.add_argument("--study", metavar="UID")
    p.add_argument("--series", metavar="UID")
    p.add_argument("--files", nargs="+", metavar="PATH", help="send these files instead of cached ones")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_send)

    p = commands.add_parser("listen", help="run the storage SCP in the foreground (Ctrl-C stops)")
    p.add_argument("--port", type=int, help="default: the configured local port")
    p.add_argument("--aet", help="default: the configured local AE title")
    p.add_argument("--bind", metavar="HOST", help="address to listen on (default: all interfaces)")
    p.add_argument("--to", metavar="DIR", help="write files into DIR instead of the cache")
    p.add_argument("--seconds", type=float, help="stop after this many seconds")
    p.set_defaults(func=run_listen)

    config = commands.add_parser("config", help="local network settings")
    config_cmds = config.add_subparsers(dest="config_command", metavar="WHAT", required=True)
    local = config_cmds.add_parser("local", help="show or set our AE title, storage port, accept-list")
    local.add_argument("--aet")
    local.add_argument("--port", type=int)
    local.add_argument("--bind", metavar="HOST", help='"" = all interfaces')
    local.add_argument(
        "--accept", nargs="*", metavar="AET", help="calling AE titles allowed to store to us (none given = anyone)"
    )
    local.add_argument("--tls-cert", metavar="PEM", help="storage SCP certificate: listen with TLS only")
    local.add_argument("--tls-key", metavar="PEM", help="its private key")
    local.add_argument("--tls-client-ca", metavar="PEM", help="require client certificates from this CA")
    local.add_argument("--no-tls", action="store_true", help="listen without TLS again")
    local.set_defaults(func=run_config_local)


# --- helpers ---------------------------------------------------------------------------------


def _home(args: argparse.Namespace) -> Path:
    return lightbox_home(args.home)


def _config(args: argparse.Namespace) -> NetConfig:
    return load_config(_home(args))


def _fail(message: object) -> int:
    print(f"lightbox: {message}", file=sys.stderr)
    return EXIT_FAILURE


def _progress_printer(label: str) -> Any:
    if not sys.stderr.isatty():
        return None

    def show(p: Progress) -> None:
        total = f"/{p.total}" if p.total else ""
        print(f"\r{label}: {p.done}{total}", end="", file=sys.stderr, flush=True)

    return show


def _install_sigint(token: CancelToken) -> None:
    """First Ctrl-C cancels cleanly (C-CANCEL, keep what arrived); the second one interrupts."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(_sig: int, _frame: object) -> None:
        if token.cancelled:
            raise KeyboardInterrupt
        print("\nlightbox: cancelling (Ctrl-C again to abort)", file=sys.stderr)
        token.cancel()

    signal.signal(signal.SIGINT, handler)


def _jsonable(value: Any) -> Any:
    values = as_list(value)
    if len(values) == 1 and not isinstance(value, list | tuple) and "MultiValue" not in type(value).__name__:
        return values[0]
    return values


def _row(ds: Dataset) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for elem in ds:
        if elem.keyword and elem.VR != "SQ" and elem.keyword != "QueryRetrieveLevel":
            out[elem.keyword] = _jsonable(elem.value) if elem.value not in (None, "") else ""
    return out


# --- node / config ------------------------------------------------------------------------------


def run_node_add(args: argparse.Namespace) -> int:
    cfg = _config(args)
    node: RemoteNode | DicomWebNode
    if args.url:
        if args.aet or args.host or args.port:
            return _fail("give either --url (DICOMweb) or --aet/--host/--port (DIMSE), not both")
        password = os.environ.get(args.password_env) if args.password_env else None
        token = os.environ.get(args.token_env) if args.token_env else None
        node = DicomWebNode(args.name, args.url, username=args.user, password=password, token=token)
    else:
        missing = [f"--{n}" for n in ("aet", "host", "port") if not getattr(args, n)]
        if missing:
            return _fail(f"a DIMSE node needs {', '.join(missing)} (or --url for DICOMweb)")
        extra: dict[str, Any] = {}
        if args.timeout is not None:
            extra["dimse_timeout"] = args.timeout
        node = RemoteNode(
            args.name,
            args.aet,
            args.host,
            args.port,
            retrieve="get" if args.get else "move",
            tls=args.tls or bool(args.tls_ca or args.tls_cert),
            tls_ca=args.tls_ca,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            tls_check_hostname=not args.no_check_hostname,
            max_pdu=args.max_pdu,
            **extra,
        )
    cfg.add(node)
    path = save_config(_home(args), cfg)
    print(f"node {node.label} saved in {path}")
    return EXIT_OK


def run_node_ls(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if args.json:
        print(
            json.dumps(
                {
                    "command": "node ls",
                    "local": {
                        "aet": cfg.local.ae_title,
                        "port": cfg.local.port,
                        "bind": cfg.local.bind_host,
                        "accept": cfg.local.accept_aets,
                    },
                    "nodes": [
                        {
                            "name": n.name,
                            "aet": n.aet,
                            "host": n.host,
                            "port": n.port,
                            "retrieve": n.retrieve,
                            "tls": n.tls,
                        }
                        for n in cfg.nodes.values()
                    ],
                    "dicomweb": [
                        {
                            "name": n.name,
                            "url": n.url,
                            "auth": "token" if n.token else "basic" if n.username else "none",
                        }
                        for n in cfg.dicomweb.values()
                    ],
                },
                indent=2,
            )
        )
        return EXIT_OK
    accept = ", ".join(cfg.local.accept_aets) or "anyone"
    print(f"local: {cfg.local.ae_title} port {cfg.local.port} (accepts {accept})")
    for n in cfg.nodes.values():
        print(f"{n.name}\t{n.aet}@{n.host}:{n.port}\t{n.retrieve.upper()}{'  TLS' if n.tls else ''}")
    for w in cfg.dicomweb.values():
        print(f"{w.name}\t{w.url}\tDICOMweb")
    if not cfg.nodes and not cfg.dicomweb:
        print("no nodes; add one with 'lightbox node add NAME --aet AET --host HOST --port PORT'")
    return EXIT_OK


def run_node_rm(args: argparse.Namespace) -> int:
    cfg = _config(args)
    cfg.remove(args.name)
    save_config(_home(args), cfg)
    print(f"node {args.name} removed")
    return EXIT_OK


def run_config_local(args: argparse.Namespace) -> int:
    cfg = _config(args)
    current = cfg.local
    changes: dict[str, Any] = {
        key: value
        for key, value in {
            "ae_title": args.aet,
            "port": args.port,
            "bind_host": args.bind,
            "accept_aets": args.accept,
            "tls_cert": args.tls_cert,
            "tls_key": args.tls_key,
            "tls_client_ca": args.tls_client_ca,
        }.items()
        if value is not None
    }
    if args.no_tls:
        changes.update(tls_cert=None, tls_key=None, tls_client_ca=None)
    if changes:
        cfg.local = dataclasses.replace(current, **changes)  # validates again in __post_init__
        cfg.local.server_ssl_context()  # refuse unreadable TLS files now, not at the first listen
        save_config(_home(args), cfg)
    loc = cfg.local
    tls = "TLS" + (" with client certificates" if loc.tls_client_ca else "") if loc.tls_cert else "no TLS"
    print(
        f"local AE {loc.ae_title}, storage port {loc.port}, bind {loc.bind_host or '*'}, "
        f"accepts {', '.join(loc.accept_aets) or 'anyone'}, {tls}"
    )
    return EXIT_OK


# --- services ------------------------------------------------------------------------------------


def run_echo(args: argparse.Namespace) -> int:
    cfg = _config(args)
    node = cfg.node(args.node)
    seconds = dicomweb.ping(node) if isinstance(node, DicomWebNode) else echo(node, cfg.local)
    print(f"{node.label}: OK in {seconds * 1000:.0f} ms")
    return EXIT_OK


def run_find(args: argparse.Namespace) -> int:
    cfg = _config(args)
    node = cfg.node(args.node)
    level = args.level.upper()
    query = FindQuery(
        patient_name=args.patient_name,
        patient_id=args.patient_id,
        study_date=args.date,
        modality=args.modality,
        accession=args.accession,
        description=args.description,
        study_uid=args.study,
        series_uid=args.series,
    )
    if isinstance(node, DicomWebNode):
        results = dicomweb.qido(node, level, query)
    else:
        results = list(find(node, level, query, local=cfg.local))
    if args.json:
        print(
            json.dumps(
                {"command": "find", "node": node.name, "level": level, "results": [_row(ds) for ds in results]},
                indent=2,
                ensure_ascii=False,
            )
        )
        return EXIT_OK
    cols = COLUMNS[level]
    rows = [
        [" \\ ".join(as_list(ds.get(c))) if c in ("ModalitiesInStudy",) else str(ds.get(c, "") or "") for c in cols]
        for ds in results
    ]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
    print(f"{len(results)} {level.lower()} match{'es' if len(results) != 1 else ''}", file=sys.stderr)
    return EXIT_OK


def _retrieve_exit(report: RetrieveReport) -> int:
    if report.ok:
        return EXIT_OK
    return EXIT_PARTIAL if report.received or report.completed else EXIT_FAILURE


def _retrieve_dimse(
    args: argparse.Namespace,
    cfg: NetConfig,
    node: RemoteNode,
    series: str | None,
    sop_uids: list[str] | None,
    sink: InstanceSink,
    progress: Any,
    token: CancelToken,
) -> RetrieveReport:
    try:
        return retrieve(
            node,
            args.study,
            series,
            sop_uids,
            method=args.method,
            sink=sink,
            progress=progress,
            cancel=token,
            local=cfg.local,
        )
    except PortInUse:
        if args.to or not _app_scp_answers(cfg.local):
            raise
        print(
            f"lightbox: port {cfg.local.port} belongs to a running Lightbox storage SCP "
            f"({cfg.local.ae_title}); the instances go to its cache",
            file=sys.stderr,
        )
        return retrieve(
            node,
            args.study,
            series,
            sop_uids,
            method="move",
            progress=progress,
            cancel=token,
            local=cfg.local,
            move_to=cfg.local.ae_title,
        )


def _merge(reports: list[RetrieveReport], method: str) -> RetrieveReport:
    """One report for several retrieves (``--resume`` fetches series by series)."""
    if len(reports) == 1:
        return reports[0]
    out = RetrieveReport(method=method, status=0 if not reports else None)  # type: ignore[arg-type]
    for r in reports:
        out.completed += r.completed
        out.failed += r.failed
        out.warning += r.warning
        out.received += r.received
        out.received_sop_uids += r.received_sop_uids
        out.failed_sop_uids += r.failed_sop_uids
        out.cancelled = out.cancelled or r.cancelled
        out.error = out.error or r.error
        out.seconds += r.seconds
        if r.status not in (0, None) or out.status is None:
            out.status, out.status_text = r.status, r.status_text
    return out


def _app_scp_answers(local: LocalSettings) -> bool:
    """Whether our own AE title answers C-ECHO on the local port (the app's storage SCP)."""
    try:
        echo(
            RemoteNode(
                "local SCP", local.ae_title, "127.0.0.1", local.port, connect_timeout=3, acse_timeout=5, dimse_timeout=5
            ),
            local,
        )
    except LightboxError:
        return False
    return True


def run_retrieve(args: argparse.Namespace) -> int:
    cfg = _config(args)
    node = cfg.node(args.node)
    token = CancelToken()
    _install_sigint(token)
    store = None
    sink: InstanceSink
    if args.to:
        sink = FolderSink(args.to)
    else:
        from viewer.services.network import CacheSink
        from viewer.store import Store

        store = Store.open(_home(args))
        sink = CacheSink(store, node.name)  # written at once, indexed in batches; flushed by close()

    try:
        progress = _progress_printer(f"retrieve from {node.name}")
        if isinstance(node, DicomWebNode):
            report = dicomweb.wado(node, args.study, args.series, sink=sink, progress=progress, cancel=token)
        else:
            if args.resume:
                if store is not None:
                    have = {r.sop_uid for r in store.study_instances(args.study)}
                else:
                    have = {p.stem for p in Path(args.to).glob("*.dcm")}
                todo = missing_instances(node, args.study, have, local=cfg.local)
                if args.series:
                    todo = {k: v for k, v in todo.items() if k == args.series}
                print(
                    f"lightbox: {len(have)} instances already here, {sum(map(len, todo.values()))} to fetch",
                    file=sys.stderr,
                )
                parts = [(series, uids) for series, uids in todo.items()]
            else:
                parts = [(args.series, None)]
            reports = [_retrieve_dimse(args, cfg, node, series, uids, sink, progress, token) for series, uids in parts]
            report = _merge(reports, args.method or node.retrieve)
    finally:
        if store is not None:
            store.close()
        if sys.stderr.isatty():
            print(file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "command": "retrieve",
                    "node": node.name,
                    "method": report.method,
                    "received": report.received,
                    "completed": report.completed,
                    "failed": report.failed,
                    "warning": report.warning,
                    "status": report.status,
                    "cancelled": report.cancelled,
                    "failed_sop_uids": report.failed_sop_uids,
                    "error": str(report.error) if report.error else None,
                    "seconds": round(report.seconds, 3),
                },
                indent=2,
            )
        )
    else:
        print(f"{node.name}: {report.summary()}")
    if report.error is not None and not args.json:
        print(f"lightbox: {report.error}", file=sys.stderr)
    return _retrieve_exit(report)


def _send_exit(report: SendReport) -> int:
    if report.ok:
        return EXIT_OK
    return EXIT_PARTIAL if report.sent else EXIT_FAILURE


def run_send(args: argparse.Namespace) -> int:
    cfg = _config(args)
    node = cfg.node(args.node)
    if args.files:
        paths: list[Path] = [Path(p) for p in args.files]
    else:
        if not (args.study or args.series):
            return _fail("send needs --study UID, --series UID or --files PATH...")
        from viewer.store import Store

        with Store.open(_home(args)) as store:
            rows = store.instances(args.series) if args.series else store.study_instances(args.study)
        paths = [Path(r.path) for r in rows]
        if not paths:
            return _fail(f"nothing cached for {'series ' + args.series if args.series else 'study ' + args.study}")
    token = CancelToken()
    _install_sigint(token)
    progress = _progress_printer(f"send to {node.name}")
    if isinstance(node, DicomWebNode):
        report = dicomweb.stow(node, paths, progress=progress, cancel=token)
    else:
        report = send(node, paths, progress=progress, cancel=token, local=cfg.local)
    if args.json:
        print(
            json.dumps(
                {
                    "command": "send",
                    "node": node.name,
                    "total": report.total,
                    "sent": report.sent,
                    "converted": report.converted,
                    "warning": report.warning,
                    "failures": [{"item": i, "reason": r} for i, r in report.failures],
                    "error": str(report.error) if report.error else None,
                    "seconds": round(report.seconds, 3),
                },
                indent=2,
            )
        )
    else:
        print(f"{node.name}: {report.summary()}")
        for item, reason in report.failures[:20]:
            print(f"  {item}: {reason}", file=sys.stderr)
        if len(report.failures) > 20:
            print(f"  ... and {len(report.failures) - 20} more", file=sys.stderr)
    if report.error is not None and not args.json:
        print(f"lightbox: {report.error}", file=sys.stderr)
    return _send_exit(report)


def run_listen(args: argparse.Namespace) -> int:
    cfg = _config(args)
    loc = cfg.local
    local = dataclasses.replace(
        loc,
        ae_title=args.aet or loc.ae_title,
        port=args.port or loc.port,
        bind_host=loc.bind_host if args.bind is None else args.bind,
    )
    store = None
    counts: dict[str, int] = {}
    lock = threading.Lock()
    if args.to:
        target: InstanceSink = FolderSink(args.to)
    else:
        from viewer.services.network import CacheSink
        from viewer.store import Store

        store = Store.open(_home(args))
        target = CacheSink(store, f"push to {local.ae_title}")  # indexed in batches; flushed by close()

    def sink(ds: Dataset) -> None:
        target(ds)
        study = str(ds.get("StudyInstanceUID", ""))
        with lock:
            counts[study] = counts.get(study, 0) + 1
        print(f"received {ds.get('Modality', '')} instance of study {study} ({counts[study]})", flush=True)

    stop = threading.Event()
    scp = StorageSCP(local, sink)
    try:
        scp.start()
        print(
            f"storage SCP {local.ae_title} listening on {local.bind_host or '*'}:{scp.port} (Ctrl-C stops)", flush=True
        )
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait(args.seconds)
    except LightboxError as exc:
        return _fail(exc)
    finally:
        scp.stop()
        if store is not None:
            store.close()
    total = sum(counts.values())
    print(
        f"received {total} instance{'s' if total != 1 else ''} in {len(counts)} "
        f"stud{'ies' if len(counts) != 1 else 'y'}"
    )
    return EXIT_OK
