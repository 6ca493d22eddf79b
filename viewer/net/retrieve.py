"""C-GET and C-MOVE of a study, a series or some instances (PS3.4 C.4.2, C.4.3).

C-GET brings the instances back on the same association (the peer acts as C-STORE SCU on
the storage contexts we offer with the SCP role, PS3.7 D.3.3.4), so it needs no inbound
port. C-MOVE makes the peer open its own association to our storage SCP, under the AE
title it has configured for us. Either way each instance goes to the ``sink``. Study Root
is used when the peer accepts it, Patient Root otherwise (the Patient ID is then looked up
with a C-FIND, PS3.4 C.6.1.2).

Progress comes from the pending responses' sub-operation counts (PS3.4 C.4.2.1.6:
remaining, completed, failed, warning). Cancelling sends C-CANCEL (PS3.7 9.3.2.3 /
9.3.3.3) from a watcher thread, so it works even while the peer is busy; if the peer has not
sent its final response ``cancel_grace`` seconds later the association is aborted. A C-MOVE
times out on inactivity (neither a response nor an instance for ``node.dimse_timeout``),
since pending responses are optional and the instances travel on another association.
Instances already handed to the sink stay there, so a retrieve can be resumed with
``sop_uids`` set to what is still missing (see :func:`missing_instances`).

Once the association is up, :func:`retrieve` does not raise for peer trouble: a lost
association or a failure status is reported in :attr:`RetrieveReport.error` next to the
counts, because "112 of 134 arrived, then the PACS aborted" is a partial success.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import StoragePresentationContexts, build_context, build_role, evt
from pynetdicom.presentation import PresentationContext
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from viewer.core.errors import NetError
from viewer.core.tasks import CancelToken, Progress, ProgressCallback
from viewer.net import status as st
from viewer.net.association import associate, raise_lost
from viewer.net.errors import ConfigError, ServiceNotSupported, StatusError
from viewer.net.find import find, find_all
from viewer.net.nodes import LocalSettings, RemoteNode
from viewer.net.sink import InstanceSink, handle_store
from viewer.net.storescp import StorageSCP, next_message_id

log = logging.getLogger(__name__)

Method = Literal["get", "move"]
ReportMethod = Literal["get", "move", "wado"]

# C-GET storage contexts (the peer is the C-STORE SCU; we take the SCP role, PS3.4 C.4.3.1).
# The peer can only send an instance in a syntax we accepted for its SOP class, and not every
# peer can transcode (Orthanc 1.10: "C-GET SCP: Cannot transcode ... from JPEG 2000"). So the
# common image classes get one context per compressed syntax besides the uncompressed one,
# and the remaining storage classes one uncompressed context each, within the 128-context
# limit (PS3.8 9.3.2.2). Callers that know the study's SOP classes can pass them instead.
NATIVE_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian]
COMPRESSED_SYNTAXES = [
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEG2000Lossless,
    RLELossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLSNearLossless,
    JPEG2000,
]
COMMON_IMAGE_CLASSES = [
    "1.2.840.10008.5.1.4.1.1.2",  # CT
    "1.2.840.10008.5.1.4.1.1.4",  # MR
    "1.2.840.10008.5.1.4.1.1.1",  # CR
    "1.2.840.10008.5.1.4.1.1.1.1",  # DX for presentation
    "1.2.840.10008.5.1.4.1.1.1.2",  # MG for presentation
    "1.2.840.10008.5.1.4.1.1.6.1",  # US
    "1.2.840.10008.5.1.4.1.1.3.1",  # US multi-frame
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture
]
MAX_CONTEXTS = 128


def get_contexts(sop_classes: Iterable[str] | None = None) -> list[PresentationContext]:
    """Storage contexts to offer (with the SCP role) on a C-GET association."""
    budget = MAX_CONTEXTS - 2  # two for the C-GET models (Study Root, Patient Root)
    rich = list(dict.fromkeys(sop_classes)) if sop_classes else COMMON_IMAGE_CLASSES
    per_class = 1 + len(COMPRESSED_SYNTAXES)
    rich = rich[: budget // per_class]
    contexts = []
    for uid in rich:
        contexts.append(build_context(uid, NATIVE_SYNTAXES))
        contexts += [build_context(uid, ts) for ts in COMPRESSED_SYNTAXES]
    if not sop_classes:
        for cx in StoragePresentationContexts:
            if len(contexts) >= budget:
                break
            if cx.abstract_syntax not in rich:
                contexts.append(build_context(cx.abstract_syntax, NATIVE_SYNTAXES + COMPRESSED_SYNTAXES))
    return contexts


@dataclass
class RetrieveReport:
    """What a retrieve did. ``status`` is the final DIMSE status (None if none arrived)."""

    method: ReportMethod
    status: int | None = None
    status_text: str = ""
    completed: int = 0
    failed: int = 0
    warning: int = 0
    remaining: int = 0
    received: int = 0  # instances handed to the sink without error
    received_sop_uids: list[str] = field(default_factory=list)
    failed_sop_uids: list[str] = field(default_factory=list)
    cancelled: bool = False
    error: NetError | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Everything asked for arrived and nothing failed."""
        return self.error is None and not self.cancelled and self.failed == 0 and self.status in (0, None)

    @property
    def partial(self) -> bool:
        return not self.ok and self.received > 0

    def summary(self) -> str:
        parts = [f"{self.received} received", f"{self.completed} completed"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.warning:
            parts.append(f"{self.warning} with warnings")
        if self.cancelled:
            parts.append("cancelled")
        if self.status is not None:
            parts.append(f"final status 0x{self.status:04X} ({self.status_text})")
        text = f"{self.method.upper()}: " + ", ".join(parts) + f" in {self.seconds:.1f} s"
        return text + (f"; {self.error}" if self.error else "")


def _identifier(study_uid: str, series_uid: str | None, sop_uids: Iterable[str] | None) -> Dataset:
    """The C-GET/C-MOVE identifier (PS3.4 C.4.2.1.4.1): unique keys down to the level asked for."""
    ds = Dataset()
    ds.StudyInstanceUID = study_uid
    sops = list(sop_uids or [])
    if sops:
        if not series_uid:
            raise ConfigError("retrieving single instances needs their series UID (hierarchical retrieve)")
        ds.QueryRetrieveLevel = "IMAGE"
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = sops  # a list of UIDs is allowed (PS3.4 C.4.2.2.1)
    elif series_uid:
        ds.QueryRetrieveLevel = "SERIES"
        ds.SeriesInstanceUID = series_uid
    else:
        ds.QueryRetrieveLevel = "STUDY"
    return ds


def _count(value: Any) -> int:
    return int(value) if value not in (None, "") else 0


class _Watchdog:
    """Sends C-CANCEL when the token is set (aborting after a grace period), and for C-MOVE
    replaces pynetdicom's DIMSE timeout with an activity timeout.

    A C-MOVE association carries nothing while the peer sends sub-operations elsewhere, and
    some PACS send no pending responses at all (they are optional, PS3.4 C.4.2.3.1); an
    instance arriving at our SCP is progress too. With ``idle`` set, the association is
    aborted only when neither a response nor an instance came for that long.
    """

    def __init__(
        self,
        assoc: Any,
        msg_id: int,
        sop: str,
        cancel: CancelToken | None,
        grace: float,
        idle: float | None = None,
        arrivals: Callable[[], int] | None = None,
    ) -> None:
        self.assoc, self.msg_id, self.sop, self.cancel, self.grace = assoc, msg_id, sop, cancel, grace
        self.idle, self.arrivals = idle, arrivals
        self.sent = False
        self.timed_out = False
        self._last = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lightbox-retrieve-watch", daemon=True)

    def __enter__(self) -> _Watchdog:
        if self.cancel is not None or self.idle is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def touch(self) -> None:
        self._last = time.monotonic()

    def _run(self) -> None:
        seen = self.arrivals() if self.arrivals else 0
        cancelled_at = None
        while not self._done.wait(0.05):
            now = time.monotonic()
            if not self.assoc.is_established:  # aborted by the peer or the network
                self.assoc.dimse.msg_queue.put((None, None))
                return
            if self.arrivals is not None and (count := self.arrivals()) != seen:
                seen, self._last = count, now
            if self.cancel is not None and self.cancel.cancelled and cancelled_at is None:
                cancelled_at = now
                try:
                    self.assoc.send_c_cancel(self.msg_id, query_model=self.sop)
                    self.sent = True
                    log.info("C-CANCEL sent for message %d", self.msg_id)
                except Exception as exc:  # the association may already be gone
                    log.debug("C-CANCEL not sent: %s", exc)
            if cancelled_at is not None and now - cancelled_at > self.grace:
                log.warning("no final response %.1f s after C-CANCEL; aborting the association", self.grace)
                self._abort()
                return
            if self.idle is not None and now - self._last > self.idle:
                self.timed_out = True
                self._abort()
                return

    def _abort(self) -> None:
        self.assoc.abort()
        # pynetdicom's response generator waits on its message queue, with no timeout on a
        # C-MOVE association; an empty message makes it yield "no response" and return.
        self.assoc.dimse.msg_queue.put((None, None))


def _drive(
    responses: Iterable[tuple[Dataset, Dataset | None]],
    report: RetrieveReport,
    service: str,
    node: RemoteNode,
    lost: Any,
    progress: ProgressCallback | None,
    watchdog: _Watchdog,
) -> None:
    """Consume C-GET/C-MOVE responses into ``report`` (counts, final status, failed UIDs)."""
    for status, ident in responses:
        watchdog.touch()
        if "Status" not in status:
            if watchdog.sent:
                report.cancelled = True
                return
            lost()
        code = int(status.Status)
        report.remaining = _count(status.get("NumberOfRemainingSuboperations"))
        report.completed = _count(status.get("NumberOfCompletedSuboperations"))
        report.failed = _count(status.get("NumberOfFailedSuboperations"))
        report.warning = _count(status.get("NumberOfWarningSuboperations"))
        cat = st.category(code)
        if cat == "pending":
            if progress is not None:
                done = max(report.completed + report.failed + report.warning, report.received)
                total = done + report.remaining
                progress(Progress(done, total, f"{done} of {total} instances"))
            continue
        report.status, report.status_text = code, st.meaning(service, code)
        if ident is not None and "FailedSOPInstanceUIDList" in ident:
            value = ident.FailedSOPInstanceUIDList
            values = list(value) if isinstance(value, MultiValue) else [value]
            report.failed_sop_uids = [str(u) for u in values if u]
        if cat == "cancel":
            report.cancelled = True
        elif cat == "failure":
            report.error = StatusError(node.label, service, code, report.status_text, st.comment(status))
        if progress is not None:
            done = report.completed + report.failed + report.warning
            progress(Progress(max(done, report.received), max(done, report.received), report.summary()))
        return


def retrieve(
    node: RemoteNode,
    study_uid: str,
    series_uid: str | None = None,
    sop_uids: Iterable[str] | None = None,
    method: Method | None = None,
    sink: InstanceSink | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    local: LocalSettings | None = None,
    scp: StorageSCP | None = None,
    move_to: str | None = None,
    cancel_grace: float = 5.0,
    sop_classes: Iterable[str] | None = None,
) -> RetrieveReport:
    """Retrieve a study, one series, or some instances of a series from ``node`` into ``sink``.

    ``method`` defaults to the node's setting. For C-MOVE, ``scp`` is a running storage SCP
    (the app's); without one, a :class:`StorageSCP` on ``local.port`` runs for the duration.
    The move destination is ``local.ae_title`` (or the running SCP's): the peer must know it.
    ``move_to`` moves to an AE title whose storage SCP runs elsewhere (e.g. the running app's,
    when the CLI finds the port taken): nothing is received here, the counts are the peer's.
    Raises before anything is transferred (connection, association, port in use); after
    that, problems land in the report. ``sop_classes`` (C-GET only) narrows the storage
    contexts offered to those classes, each with every transfer syntax (see :func:`get_contexts`).
    """
    method = method or node.retrieve
    if method not in ("get", "move"):
        raise ConfigError(f"retrieve method must be 'get' or 'move', not {method!r}")
    local = local or (scp.local if scp is not None else LocalSettings())
    sops = frozenset(sop_uids) if sop_uids else None
    ident = _identifier(study_uid, series_uid, sorted(sops) if sops else None)
    report = RetrieveReport(method=method)
    start = time.perf_counter()
    try:
        if method == "get":
            if sink is None:
                raise ConfigError("C-GET needs a sink for the received instances")
            _get(node, ident, report, sink, progress, cancel, local, cancel_grace, sop_classes)
        else:
            _move(
                node,
                ident,
                report,
                sink,
                progress,
                cancel,
                local,
                scp,
                cancel_grace,
                (study_uid, series_uid, sops),
                move_to,
            )
    finally:
        report.seconds = time.perf_counter() - start
    log.info("%s: %s", node.name, report.summary())
    return report


def _get(
    node: RemoteNode,
    ident: Dataset,
    report: RetrieveReport,
    sink: InstanceSink,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    local: LocalSettings,
    grace: float,
    sop_classes: Iterable[str] | None,
) -> None:
    models = (StudyRootQueryRetrieveInformationModelGet, PatientRootQueryRetrieveInformationModelGet)
    storage = get_contexts(sop_classes)
    contexts = [*map(build_context, models), *storage]
    roles = [build_role(uid, scp_role=True) for uid in dict.fromkeys(cx.abstract_syntax for cx in storage)]

    def deliver(ds: Dataset) -> None:
        sink(ds)
        report.received += 1
        report.received_sop_uids.append(str(ds.SOPInstanceUID))

    handlers = [(evt.EVT_C_STORE, lambda event: handle_store(event, deliver))]
    with associate(
        node,
        contexts,
        service="Study or Patient Root C-GET",
        calling_aet=local.ae_title,
        ext_neg=roles,
        evt_handlers=handlers,
    ) as (assoc, watch):
        sop = _pick_model(assoc, node, models, ident, local)
        msg_id = next_message_id()
        with _Watchdog(assoc, msg_id, sop, cancel, grace) as watchdog:
            try:
                _drive(
                    assoc.send_c_get(ident, sop, msg_id=msg_id),
                    report,
                    "C-GET",
                    node,
                    lambda: raise_lost(assoc, watch, node, "C-GET"),
                    progress,
                    watchdog,
                )
            except NetError as exc:
                report.error = exc
        if cancel is not None and cancel.cancelled:
            report.cancelled = True


def _move(
    node: RemoteNode,
    ident: Dataset,
    report: RetrieveReport,
    sink: InstanceSink | None,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    local: LocalSettings,
    scp: StorageSCP | None,
    grace: float,
    uids: tuple[str, str | None, frozenset[str] | None],
    move_to: str | None,
) -> None:
    msg_id = next_message_id()
    if move_to:  # another process's SCP receives: we only see the peer's counts
        _send_move(node, ident, report, progress, cancel, local, grace, move_to, msg_id, None)
        return
    own_scp = None
    if scp is None:
        if sink is None:
            raise ConfigError("C-MOVE without a running storage SCP needs a sink")
        own_scp = scp = StorageSCP(local, sink)
        scp.start()  # PortInUse surfaces here, before we ask the peer for anything
    try:
        with scp.route(*uids, sink=sink, msg_id=msg_id) as route:
            try:
                _send_move(
                    node,
                    ident,
                    report,
                    progress,
                    cancel,
                    local,
                    grace,
                    scp.ae_title,
                    msg_id,
                    lambda: len(route.received),
                )
            finally:
                report.received = len(route.received)
                report.received_sop_uids = list(route.received)
    finally:
        if own_scp is not None:
            own_scp.stop()
    if report.status == 0xA801 and report.error is not None:
        report.error = StatusError(
            node.label,
            "C-MOVE",
            0xA801,
            "Move destination unknown",
            f"the peer does not know AE title {scp.ae_title!r}; register it there with host and port {scp.port}",
        )
    if report.error is None and not report.cancelled and report.completed > report.received:
        report.error = NetError(
            f"{node.label}: reports {report.completed} instances sent but {report.received} arrived here; "
            f"does it map AE title {scp.ae_title!r} to this host and port {scp.port}?"
        )


def _send_move(
    node: RemoteNode,
    ident: Dataset,
    report: RetrieveReport,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    local: LocalSettings,
    grace: float,
    destination: str,
    msg_id: int,
    arrivals: Callable[[], int] | None,
) -> None:
    """The C-MOVE association itself: request, pending responses, C-CANCEL, activity timeout."""
    models = (StudyRootQueryRetrieveInformationModelMove, PatientRootQueryRetrieveInformationModelMove)
    with associate(
        node, [build_context(m) for m in models], service="Study or Patient Root C-MOVE", calling_aet=local.ae_title
    ) as (assoc, watch):
        sop = _pick_model(assoc, node, models, ident, local)
        assoc.dimse_timeout = None  # the watchdog times out on inactivity instead
        assoc.network_timeout = None
        with _Watchdog(assoc, msg_id, sop, cancel, grace, node.dimse_timeout, arrivals) as watchdog:
            try:
                _drive(
                    assoc.send_c_move(ident, destination, sop, msg_id=msg_id),
                    report,
                    "C-MOVE",
                    node,
                    lambda: raise_lost(assoc, watch, node, "C-MOVE"),
                    progress,
                    watchdog,
                )
            except NetError as exc:
                report.error = exc
    if cancel is not None and cancel.cancelled:
        report.cancelled = True


def _pick_model(assoc: Any, node: RemoteNode, models: tuple[str, str], ident: Dataset, local: LocalSettings) -> str:
    """Study Root if accepted, else Patient Root, whose identifier also needs the Patient ID
    (PS3.4 C.6.1.2: the patient level is the top of that hierarchy); we look it up with C-FIND."""
    accepted = {cx.abstract_syntax for cx in assoc.accepted_contexts}
    study_root, patient_root = models
    if study_root in accepted:
        return study_root
    if patient_root in accepted:
        if "PatientID" not in ident:
            studies = find_all(node, "STUDY", {"study_uid": str(ident.StudyInstanceUID)}, local=local)
            if not studies:
                raise NetError(f"{node.label}: study {ident.StudyInstanceUID} not found (needed its Patient ID)")
            ident.PatientID = studies[0].get("PatientID", "")
        return patient_root
    raise ServiceNotSupported(node.label, "Study or Patient Root retrieve")


def missing_instances(
    node: RemoteNode, study_uid: str, have: Iterable[str], local: LocalSettings | None = None
) -> dict[str, list[str]]:
    """SOP Instance UIDs of ``study_uid`` on ``node`` that are not in ``have``, by series UID.

    Resuming an interrupted retrieve is then one ``retrieve(..., series_uid=s, sop_uids=u)``
    per entry (an IMAGE-level C-FIND tells what exists).
    """
    got = set(have)
    out: dict[str, list[str]] = {}
    for ds in find(node, "IMAGE", {"study_uid": study_uid}, local=local):
        uid = str(ds.get("SOPInstanceUID", ""))
        if uid and uid not in got:
            out.setdefault(str(ds.SeriesInstanceUID), []).append(uid)
    return out
