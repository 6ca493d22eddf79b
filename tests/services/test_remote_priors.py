"""Remote priors: the patient's studies on every configured node, against the real PACS."""

from __future__ import annotations

import pytest

from viewer.net.nodes import DicomWebNode, LocalSettings, RemoteNode
from viewer.services.priors import find_remote_priors

from ..conftest import free_port
from ..net.helpers import CT_PATIENT_ID, CT_STUDY, pacs_node


@pytest.fixture
def local(viewer_scp: dict) -> LocalSettings:
    return LocalSettings(ae_title=str(viewer_scp["aet"]), port=int(viewer_scp["port"]), bind_host="127.0.0.1")


def _nodes(orthanc: dict, dcmqrscp: dict) -> list[RemoteNode | DicomWebNode]:
    return [
        pacs_node(dict(orthanc, KIND="orthanc")),
        pacs_node(dict(dcmqrscp, KIND="dcmqrscp")),
        DicomWebNode("orthanc-web", orthanc["PACS_DICOMWEB_URL"]),
    ]


def test_the_patients_study_is_found_once_across_nodes(orthanc, dcmqrscp, local):
    found = find_remote_priors(_nodes(orthanc, dcmqrscp), CT_PATIENT_ID, local=local)
    assert found.failures == []
    assert [(p.node, p.study_uid) for p in found.priors] == [("orthanc", CT_STUDY)]
    prior = found.priors[0]
    assert prior.study_date == "20120706"
    assert "CT" in prior.modalities
    assert prior.instance_count == 134


def test_each_node_answers_on_its_own(orthanc, dcmqrscp, local):
    nodes = _nodes(orthanc, dcmqrscp)
    for node in nodes:
        found = find_remote_priors([node], CT_PATIENT_ID, local=local)
        assert [p.study_uid for p in found.priors] == [CT_STUDY], node.name


def test_cached_and_later_studies_are_not_offered(orthanc, dcmqrscp, local):
    nodes = _nodes(orthanc, dcmqrscp)
    assert find_remote_priors(nodes, CT_PATIENT_ID, exclude={CT_STUDY}, local=local).priors == []
    assert find_remote_priors(nodes, CT_PATIENT_ID, before="20120705", local=local).priors == []
    assert len(find_remote_priors(nodes, CT_PATIENT_ID, before="20120706", local=local).priors) == 1


def test_other_patients_and_blank_ids_find_nothing(orthanc, dcmqrscp, local):
    nodes = _nodes(orthanc, dcmqrscp)
    assert find_remote_priors(nodes, "NO-SUCH-PATIENT", local=local).priors == []
    assert find_remote_priors(nodes, "  ", local=local).priors == []


def test_an_unreachable_node_is_named_and_the_others_still_answer(orthanc, dcmqrscp, local):
    down = RemoteNode("night-pacs", "DOWN", "127.0.0.1", free_port(), connect_timeout=2)
    found = find_remote_priors([down, *_nodes(orthanc, dcmqrscp)], CT_PATIENT_ID, local=local)
    assert [p.study_uid for p in found.priors] == [CT_STUDY]
    assert len(found.failures) == 1 and found.failures[0].startswith("night-pacs:")
