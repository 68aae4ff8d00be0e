"""Hand-overs: the service (perms, validation, audit, first action on leads), the package's contents (no reporter's
contact), its signed manifest, tampering found offline, the command-line check's exit codes and
`manage.py verify_handover`, and the admin (actions with the intermediate form, download, status through the
service)."""

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from PIL import Image

from debunk.api.models import Platform
from debunk.core.models import AuditEvent
from debunk.images.services import query_image
from debunk.matching.services import reset_caches
from debunk.reports import signing
from debunk.reports.handover import handover_create, handover_update
from debunk.reports.intake import ReportItem, reports_submit
from debunk.reports.models import Handover, LeadCluster
from debunk.reports.package import verify_package
from debunk.reports.receipts import public_key
from debunk.stock.attachments import attachment_add
from labels.models import Category
from tests.factories import publish_rumor

ROOT = Path(__file__).resolve().parents[2]
LEAD = "网传本市明天起所有小学停课两周，因为出现了一种新的传染病，教育局已经下发文件，请家长做好准备"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    reset_caches()
    yield
    reset_caches()


def png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).resize((256, 256)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def lead(db):
    category = Category.objects.get(code="livelihood")
    platform = Platform.objects.create(code="weibo", name="微博")
    reports_submit(
        [
            ReportItem(
                category,
                text=LEAD,
                images=(query_image(png(1)),),
                external_id="p-1",
                reporter="user-42",
                reposts=10,
                views=1000,
            )
        ],
        platform=platform,
    )
    reports_submit([ReportItem(category, text=LEAD, contact="reporter@example.org", involves_minor=True)])
    return LeadCluster.objects.get()


@pytest.fixture
def rumor(checker, reviewer):
    rumor = publish_rumor(checker, reviewer)
    attachment_add(rumor=rumor, by=checker, upload=io.BytesIO(png(7)), name="proof.png", caption="检测报告")
    return rumor


@pytest.fixture
def handover(lead, rumor, reviewer):
    return handover_create(clusters=[lead], rumors=[rumor], recipient="市网信办", recipient_contact="张三", by=reviewer)


def package_path(handover: Handover) -> Path:
    return Path(handover.package.path)


def test_the_package_holds_the_items_their_evidence_and_no_contact(handover, lead, rumor, reviewer):
    with zipfile.ZipFile(package_path(handover)) as archive:
        names = set(archive.namelist())
        items = json.loads(archive.read("items.json"))
        manifest = json.loads(archive.read("manifest.json"))
        raw = {name: archive.read(name) for name in names}
    screenshot = png(1)
    attachment = rumor.attachments.get()
    with attachment.file.open("rb") as handle:
        stored = handle.read()
    evidence = {f"evidence/{signing.sha256_hex(screenshot)}.png", f"evidence/{signing.sha256_hex(stored)}.png"}
    assert names == {"items.json", "manifest.json", *evidence}
    [item_lead] = items["leads"]
    assert item_lead["id"] == lead.pk and item_lead["report_count"] == 2
    reports = [r for content in item_lead["contents"] for r in content["reports"]]
    assert sorted(r["platform"] or "" for r in reports) == ["", "weibo"]
    assert {r["views"] for r in reports} == {1000, None}
    text = raw["items.json"].decode()
    for secret in ["reporter@example.org", "user-42", "p-1", "reporter_hash", '"contact"']:
        assert secret not in text
    [item_rumor] = items["rumors"]
    assert item_rumor["claim"] == rumor.claim and item_rumor["verdict"]["code"] == "false"
    assert item_rumor["debunks"][0]["title"] == rumor.debunks.get().title
    assert item_rumor["evidence"][0]["caption"] == "检测报告"
    # the manifest: every other file with its size and hash, signed with the receipts' key
    assert signing.verify(manifest, public_key())
    assert manifest == handover.manifest
    assert {f["path"]: (f["size"], f["sha256"]) for f in manifest["files"]} == {
        name: (len(data), signing.sha256_hex(data)) for name, data in raw.items() if name != "manifest.json"
    }
    assert (manifest["handover_id"], manifest["recipient"], manifest["created_by"]) == (
        handover.pk,
        "市网信办",
        "reviewer",
    )
    assert handover.package_sha256 == signing.sha256_hex(package_path(handover).read_bytes())
    assert verify_package(package_path(handover), public_key()) == []
    # audited; the hand-over is the lead's first action
    event = AuditEvent.objects.get(action="handover.create")
    assert event.actor == reviewer and event.changes["clusters"] == [None, [lead.pk]]
    lead.refresh_from_db()
    assert lead.first_action_by == reviewer and lead.first_action_at is not None


def test_hand_over_needs_the_permission_items_and_a_recipient(lead, checker, reviewer):
    with pytest.raises(PermissionDenied):
        handover_create(clusters=[lead], rumors=[], recipient="市网信办", by=checker)
    with pytest.raises(ValidationError) as exc:
        handover_create(clusters=[], rumors=[], recipient=" ", by=reviewer)
    assert set(exc.value.message_dict) == {"clusters", "recipient"}
    assert Handover.objects.count() == 0 and not AuditEvent.objects.filter(action="handover.create").exists()


def test_status_and_follow_up_are_audited(handover, reviewer, checker):
    with pytest.raises(PermissionDenied):
        handover_update(handover, status="sent", follow_up="", by=checker)
    with pytest.raises(ValidationError):
        handover_update(handover, status="lost", follow_up="", by=reviewer)
    handover_update(handover, status="acknowledged", follow_up="已立案调查", by=reviewer)
    handover.refresh_from_db()
    assert (handover.status, handover.follow_up) == ("acknowledged", "已立案调查")
    event = AuditEvent.objects.get(action="handover.update")
    assert event.changes["status"] == ["prepared", "acknowledged"]


def rewrite(source: Path, target: Path, change: dict[str, bytes | None]) -> None:
    """Copy a ZIP, replacing (bytes) or dropping (None) some entries, adding others."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename in change:
                if change[info.filename] is not None:
                    new.writestr(info.filename, change[info.filename])
            else:
                new.writestr(info, old.read(info.filename))
        for name, data in change.items():
            if name not in old.namelist() and data is not None:
                new.writestr(name, data)


def test_tampering_is_found(handover, tmp_path):
    source = package_path(handover)
    with zipfile.ZipFile(source) as archive:
        evidence = next(n for n in archive.namelist() if n.startswith("evidence/"))
        items = archive.read("items.json")
        manifest = json.loads(archive.read("manifest.json"))
    forged = dict(manifest, recipient="别的部门")
    cases = {
        "evidence": ({evidence: b"not the screenshot"}, evidence),
        "items": ({"items.json": items.replace("市网信办".encode(), "某某".encode())}, "items.json"),
        "dropped": ({evidence: None}, "missing"),
        "added": ({"evidence/extra.txt": b"x"}, "not in the manifest"),
        "manifest": ({"manifest.json": json.dumps(forged).encode()}, "signature"),
    }
    for name, (change, expected) in cases.items():
        target = tmp_path / f"{name}.zip"
        rewrite(source, target, change)
        problems = verify_package(target, public_key())
        assert problems and any(expected in p for p in problems), (name, problems)
    other_key = signing.public_key_text(signing.private_key(b"another server"))
    assert any("signature" in p for p in verify_package(source, other_key))
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert verify_package(tmp_path / "junk.zip", public_key())


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "debunk.reports.package", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_the_offline_command_exit_codes(handover, tmp_path):
    source = str(package_path(handover))
    valid = cli(source, "--public-key", public_key())
    assert valid.returncode == 0 and valid.stdout.startswith("VALID") and len(valid.stdout.splitlines()) == 1
    tampered = tmp_path / "t.zip"
    rewrite(package_path(handover), tampered, {"items.json": b"{}"})
    invalid = cli(str(tampered), "--public-key", public_key())
    assert invalid.returncode == 1 and invalid.stdout.startswith("INVALID") and "items.json" in invalid.stdout
    for args in [
        (source,),
        (source, "--public-key", "not base64!"),
        (str(tmp_path / "none.zip"), "--public-key", public_key()),
    ]:
        usage = cli(*args)
        assert usage.returncode == 2 and len(usage.stderr.strip().splitlines()) == 1, usage


def test_manage_py_verify_handover(handover, tmp_path):
    out = io.StringIO()
    call_command("verify_handover", str(package_path(handover)), stdout=out)
    assert out.getvalue().startswith("VALID")
    tampered = tmp_path / "t.zip"
    rewrite(package_path(handover), tampered, {"items.json": b"{}"})
    with pytest.raises(CommandError, match="INVALID"):
        call_command("verify_handover", str(tampered))
    with pytest.raises(CommandError, match="No such file"):
        call_command("verify_handover", str(tmp_path / "none.zip"))


def test_the_admin_hands_rumors_over_and_serves_the_package_to_staff_only(client, rumor, reviewer, checker):
    client.force_login(reviewer)
    changelist = "/admin/debunk/rumor/"
    form = client.post(changelist, {"action": "hand_over_rumors", "_selected_action": [rumor.pk]})
    assert form.status_code == 200 and b'name="recipient"' in form.content
    empty = client.post(changelist, {"action": "hand_over_rumors", "_selected_action": [rumor.pk], "apply": "1"})
    assert empty.status_code == 200 and Handover.objects.count() == 0  # the form again, with its error
    made = client.post(
        changelist,
        {"action": "hand_over_rumors", "_selected_action": [rumor.pk], "apply": "1", "recipient": "市卫健委"},
    )
    handover = Handover.objects.get()
    assert made.status_code == 302 and made["Location"].endswith(f"/handover/{handover.pk}/change/")
    download = client.get(f"/admin/debunk/handover/{handover.pk}/package/")
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert signing.sha256_hex(b"".join(download.streaming_content)) == handover.package_sha256
    saved = client.post(
        f"/admin/debunk/handover/{handover.pk}/change/", {"status": "sent", "follow_up": "已邮寄"}, follow=False
    )
    assert saved.status_code == 302
    assert AuditEvent.objects.filter(action="handover.update", target_id=str(handover.pk)).exists()
    client.force_login(checker)  # no hand_over permission
    assert client.get(f"/admin/debunk/handover/{handover.pk}/package/").status_code == 403
    client.logout()
    assert client.get(f"/admin/debunk/handover/{handover.pk}/package/").status_code == 302  # to the login page
