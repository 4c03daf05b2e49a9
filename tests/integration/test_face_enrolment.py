"""Face enrolment with consent on the hub, with the real face models and real photos
(skipped without ../shared/fixtures): templates, never photos; encrypted; synced to edges;
deleted with withdrawn consent or a move-out."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image, ImageFilter
from sqlmodel import Session, col, select

from hub.__main__ import main as hub_cli
from hub.core.db import make_engine
from hub.core.security import SecretBox
from hub.tables import FaceConsent, FaceTemplate, User
from tests.integration.conftest import PASSWORD, HubHttp

pytestmark = pytest.mark.integration

ADULT = {"minor": False, "given_by": "self", "document_ref": "form 2026-118"}


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _edited(path: Path, edit: str) -> str:
    image = Image.open(path).convert("RGB")
    if edit == "blur":
        image = image.filter(ImageFilter.GaussianBlur(6))
    elif edit == "small":
        image = image.resize((image.width // 6, image.height // 6))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def examples(fixtures_dir: Path) -> Path:
    return fixtures_dir / "faces/face_recognition/examples"


@pytest.fixture
def staff(hub_http: HubHttp) -> httpx.Client:
    client = hub_http.client("staff")
    for person in ("p-lin", "p-kid"):
        body = {"id": person, "kind": "resident", "unit_id": "c1-101", "display_name": person}
        assert client.post("/api/people", json=body).status_code == 201
    return client


def _faces_at_edge(edge_http: httpx.Client, since: int = 0) -> dict[str, dict | None]:
    changes = edge_http.get("/api/edge/registry", params={"since": since}).json()["changes"]
    return {c["id"]: c["record"] for c in changes if c["record_kind"] == "face"}


def test_enrolment_keeps_encrypted_templates_and_edges_get_them(
    hub_http: HubHttp, staff: httpx.Client, edge_http: httpx.Client, examples: Path
) -> None:
    body = {"consent": ADULT, "photos": [_b64(examples / "lin-manuel-miranda.png")]}
    made = staff.post("/api/people/p-lin/face", json=body)
    assert made.status_code == 201, made.text
    assert made.json() == {"templates": 1, "warnings": []}
    with Session(hub_http.engine) as session:
        [row] = session.exec(select(FaceTemplate)).all()
    template = base64.b64decode(next(iter(_faces_at_edge(edge_http).values()))["template"])
    vector = np.frombuffer(template, dtype="<f4")
    assert vector.shape == (128,) and 0.5 < float(np.linalg.norm(vector)) < 2.0
    assert template not in row.template  # encrypted at rest
    status = staff.get("/api/people/p-lin/face").json()
    assert (status["consent"], status["templates"]) == (True, 1)


def test_unusable_photos_are_named_and_poor_ones_warned_about(
    staff: httpx.Client, examples: Path
) -> None:
    photos = [
        _b64(examples / "two_people.jpg"),
        _edited(examples / "lin-manuel-miranda.png", "blur"),
        _edited(examples / "lin-manuel-miranda.png", "small"),
        base64.b64encode(b"not a photo").decode(),
    ]
    made = staff.post("/api/people/p-lin/face", json={"consent": ADULT, "photos": photos})
    assert made.status_code == 201, made.text
    warnings = " | ".join(made.json()["warnings"])
    assert "photo 1: 2 faces" in warnings
    assert "photo 2: the face is blurry" in warnings
    assert "photo 3: the face is small" in warnings
    assert "photo 4: not a readable image" in warnings
    assert made.json()["templates"] == 2
    only_bad = {"consent": ADULT, "photos": [_b64(examples / "two_people.jpg")]}
    assert staff.post("/api/people/p-lin/face", json=only_bad).status_code == 422


def test_a_minor_needs_a_guardians_consent(staff: httpx.Client, examples: Path) -> None:
    photo = [_b64(examples / "lin-manuel-miranda.png")]
    alone = {"minor": True, "given_by": "self"}
    assert (
        staff.post("/api/people/p-kid/face", json={"consent": alone, "photos": photo}).status_code
        == 422
    )
    guardian = {"minor": True, "given_by": "guardian", "guardian_name": "林母"}
    made = staff.post("/api/people/p-kid/face", json={"consent": guardian, "photos": photo})
    assert made.status_code == 201, made.text


def test_withdrawn_consent_and_move_out_delete_the_templates_everywhere(
    hub_http: HubHttp, staff: httpx.Client, edge_http: httpx.Client, examples: Path
) -> None:
    photo = [_b64(examples / "lin-manuel-miranda.png")]
    for person in ("p-lin", "p-kid"):
        consent = (
            ADULT
            if person == "p-lin"
            else {"minor": True, "given_by": "guardian", "guardian_name": "林母"}
        )
        staff.post(f"/api/people/{person}/face", json={"consent": consent, "photos": photo})
    version = edge_http.get("/api/edge/registry", params={"since": 0}).json()["to_version"]
    lin = _account_of(hub_http, "p-lin")
    assert lin.delete("/api/people/p-lin/face").status_code == 204
    assert staff.delete("/api/people/p-kid").status_code == 204
    deleted = _faces_at_edge(edge_http, since=version)
    assert len(deleted) == 2 and all(record is None for record in deleted.values())
    with Session(hub_http.engine) as session:
        assert session.exec(select(FaceTemplate)).all() == []
        consents = session.exec(select(FaceConsent)).all()
    assert [(c.person_id, c.withdrawn_at is not None) for c in consents] == [("p-lin", True)]
    assert staff.get("/api/people/p-lin/face").json()["consent"] is False


def test_a_resident_withdraws_their_own_or_a_minors_consent_not_another_adults(
    hub_http: HubHttp, staff: httpx.Client, examples: Path
) -> None:
    photo = [_b64(examples / "lin-manuel-miranda.png")]
    guardian = {"minor": True, "given_by": "guardian", "guardian_name": "林母"}
    for person, consent in (("p-lin", ADULT), ("p-kid", guardian)):
        made = staff.post(f"/api/people/{person}/face", json={"consent": consent, "photos": photo})
        assert made.status_code == 201, made.text
    roommate = hub_http.client("resident")  # lives in c1-101 too, but is neither of them
    refused = roommate.delete("/api/people/p-lin/face")
    assert refused.status_code == 403, refused.text
    assert staff.get("/api/people/p-lin/face").json()["consent"] is True
    assert roommate.delete("/api/people/p-kid/face").status_code == 204  # any minor's of the unit
    assert staff.get("/api/people/p-kid/face").json()["templates"] == 0

    lin = _account_of(hub_http, "p-lin")
    assert lin.delete("/api/people/p-lin/face").status_code == 204
    assert staff.get("/api/people/p-lin/face").json()["templates"] == 0


def test_an_account_names_only_a_person_of_its_own_unit(
    hub_http: HubHttp, staff: httpx.Client
) -> None:
    admin = hub_http.client("admin")
    body = {"username": "lin-2", "password": PASSWORD, "role": "resident", "unit_id": "c1-102"}
    assert admin.post("/api/users", json=body | {"person_id": "p-lin"}).status_code == 422
    assert admin.post("/api/users", json=body | {"person_id": "p-nobody"}).status_code == 422
    made = admin.post("/api/users", json=body | {"unit_id": "c1-101", "person_id": "p-lin"})
    assert made.status_code == 201 and made.json()["person_id"] == "p-lin"
    guard = {"username": "lin-3", "password": PASSWORD, "role": "staff", "person_id": "p-lin"}
    assert admin.post("/api/users", json=guard).status_code == 201  # staff who lives here
    assert staff.patch("/api/people/p-lin", json={"unit_id": "c1-102"}).status_code == 200
    assert _holders(hub_http) == {"lin-2": None, "lin-3": "p-lin"}  # a resident's unit left
    assert staff.delete("/api/people/p-lin").status_code == 204
    assert _holders(hub_http) == {"lin-2": None, "lin-3": None}  # moving out unlinks them all


def _holders(hub_http: HubHttp) -> dict[str, str | None]:
    with Session(hub_http.engine) as session:
        users = session.exec(select(User).where(col(User.username).startswith("lin-"))).all()
    return {user.username: user.person_id for user in users}


def _account_of(hub_http: HubHttp, person: str) -> httpx.Client:
    """A resident account of unit c1-101 that names `person` as its holder."""
    username = f"{person}-account"
    body = {"username": username, "password": PASSWORD, "role": "resident"}
    body |= {"unit_id": "c1-101", "person_id": person}
    assert hub_http.client("admin").post("/api/users", json=body).status_code == 201
    return hub_http.login(username)


def test_bulk_enrolment_from_a_folder_per_person(
    tmp_path: Path,
    examples: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    monkeypatch.setenv("ANJU_HUB_DATABASE_URL", database)
    monkeypatch.setenv("ANJU_HUB_SECRET_KEYS", SecretBox.generate_key())
    residents = tmp_path / "residents.csv"
    residents.write_text(
        "building,unit,person_id,name,kind,cards,plates\n"
        "b1,b1-101,p-lin,Lin,resident,,\nb1,b1-101,p-obama,Obama,resident,,\n",
        encoding="utf-8",
    )
    assert hub_cli(["create-compound", "--id", "c9", "--name", "c9"]) == 0
    assert hub_cli(["import-residents", str(residents), "--compound", "c9"]) == 0
    folder = tmp_path / "faces"
    for person, photo in (("p-lin", "lin-manuel-miranda.png"), ("p-obama", "obama.jpg")):
        (folder / person).mkdir(parents=True)
        (folder / person / photo).write_bytes((examples / photo).read_bytes())
    (folder / "p-nobody").mkdir()
    consents = tmp_path / "consents.csv"
    enrol = ["enrol-faces", str(folder), "--compound", "c9", "--consents", str(consents)]

    for rows, problem in (
        ("p-lin,F-1\np-nobody,\n", "line 3: no form reference for p-nobody"),
        ("p-lin,F-1\np-lin,F-2\n", "line 3: p-lin is listed twice"),
        ("p lin,F-1\n", "line 2: 'p lin' is not a person id"),
        ("p-lin,F\x07-1\n", "line 2: the form reference for p-lin"),
    ):
        consents.write_text(f"person_id,document_ref\n{rows}", encoding="utf-8")
        assert hub_cli(enrol) == 2  # the whole file is refused
        assert problem in capsys.readouterr().err

    forms = "person_id,document_ref\np-lin,F-1\np-nobody,F-9\np-chen,F-4\n"
    consents.write_text(forms, encoding="utf-8")
    code = hub_cli(enrol)
    out, err = capsys.readouterr()
    assert code == 1  # Obama signed no form; one folder names nobody; Chen's photos are missing
    assert "1 people enrolled, 3 not" in out
    assert "p-chen: a consent form but no folder of photos" in err
    assert "p-obama: no consent form for p-obama in the consents file" in err
    assert "p-nobody: no person p-nobody in c9" in err
    assert "2/3" in err or "3/3" in err  # the progress bar
    engine = make_engine(database)
    with Session(engine) as session:
        templates = session.exec(select(FaceTemplate)).all()
        consents_kept = session.exec(select(FaceConsent)).all()
    engine.dispose()
    assert {t.person_id for t in templates} == {"p-lin"}
    assert [(c.person_id, c.document_ref) for c in consents_kept] == [("p-lin", "F-1")]
