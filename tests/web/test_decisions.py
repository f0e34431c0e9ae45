"""Editing, approving, rejecting and downloading supplier files through the pages and the API.

Every change goes through `replenishment.approval` / `suppliers.export`; these tests check the
web side: the form or JSON reaches the service with the signed-in user, the page shows the
service's outcome (rounding, impact, conflicts) and the file downloaded is the file written.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from kernel.audit import AuditEntry
from kernel.orm import unit_of_work
from replenishment.models import Proposal, ProposalLine
from suppliers.models import PurchaseOrder, SupplierFile
from tests.web.conftest import csrf_from


def _line(engine, pid: int, sku: str) -> ProposalLine:  # type: ignore[no-untyped-def]
    with unit_of_work(engine) as session:
        row = session.scalar(
            select(ProposalLine).where(ProposalLine.proposal_id == pid, ProposalLine.sku_code == sku)
        )
        assert row is not None
        session.expunge(row)
        return row


def test_a_merchandiser_edits_a_line_and_sees_the_rounding_and_the_impact(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    line = _line(engine, pid, "DJK-002")
    page = mei.get(f"/proposals/{pid}/lines/{line.id}")
    assert 'id="edit-form"' in page.text
    response = mei.post(
        f"/proposals/{pid}/lines/{line.id}",
        data={
            "csrf_token": csrf_from(page.text),
            "expected_version": str(line.lock_version),
            "units": "45",
            "supplier_to": "SUP-A",
            "reason_code": "supplier_capacity",
            "note": "only 50 available",
            "action": "save",
        },
    )
    assert response.status_code == 200, response.text
    assert "45 → 50 units (rounded up to 5 case(s) of 10)" in response.text
    # 100 → 50 units at ¥400 takes SUP-A from ¥2,000,000 back to ¥1,980,000: tier 2 is lost.
    assert "SUP-A drops below tier 2 (SUP-A-2026, now tier 1)" in response.text
    after = _line(engine, pid, "DJK-002")
    assert (after.units, after.state, after.changed_by, after.reason_code) == (
        50,
        "edited",
        "mei",
        "supplier_capacity",
    )
    assert after.proposed_units == 100 and after.lock_version == line.lock_version + 1
    with unit_of_work(engine) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "edit_line"))
        assert entry is not None and entry.actor == "mei" and entry.entity_key == f"{pid}/DJK-002"


def test_an_edit_based_on_an_old_version_is_refused_and_saves_nothing(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    line = _line(engine, pid, "KIT-001")
    token = csrf_from(mei.get(f"/proposals/{pid}/lines/{line.id}").text)
    form = {
        "csrf_token": token,
        "reason_code": "budget",
        "units": "18",
        "expected_version": str(line.lock_version),
    }
    assert mei.post(f"/proposals/{pid}/lines/{line.id}", data=form).status_code == 200
    stale = mei.post(f"/proposals/{pid}/lines/{line.id}", data=form | {"units": "24"})
    assert stale.status_code == 409
    assert "was changed by mei" in stale.text and "nothing was" in stale.text
    assert _line(engine, pid, "KIT-001").units == 18


def test_an_edit_with_a_bad_value_names_the_field(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    line = _line(engine, pid, "KIT-001")
    token = csrf_from(mei.get(f"/proposals/{pid}/lines/{line.id}").text)
    bad = mei.post(
        f"/proposals/{pid}/lines/{line.id}",
        data={"csrf_token": token, "reason_code": "budget", "units": "x1"},
    )
    assert bad.status_code == 422 and "units: &#39;x1&#39; is not a whole number" in bad.text
    unknown = mei.post(
        f"/proposals/{pid}/lines/{line.id}", data={"csrf_token": token, "reason_code": "whim", "units": "6"}
    )
    assert unknown.status_code == 422 and "whim" in unknown.text
    assert _line(engine, pid, "KIT-001").units == 12


def test_the_api_edit_dry_run_shows_the_impact_and_saves_nothing(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    token = csrf_from(mei.get(f"/proposals/{pid}").text)
    line = _line(engine, pid, "DJK-001")
    response = mei.patch(
        f"/api/v1/proposals/{pid}/lines/{line.id}",
        json={"units": 60, "reason_code": "budget", "dry_run": True},
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["saved"] is False and body["line"]["units"] == 60
    assert [f["code"] for f in body["findings"]][:1] == ["tier_lost"]
    assert _line(engine, pid, "DJK-001").units == 120


def test_approve_raises_the_orders_and_the_downloaded_file_is_the_written_file(client_as, shop, app) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    decide = mei.get(f"/proposals/{pid}/decide")
    assert decide.status_code == 200 and 'id="approve-form"' in decide.text
    approved = mei.post(
        f"/proposals/{pid}/approve", data={"csrf_token": csrf_from(decide.text)}, follow_redirects=False
    )
    assert approved.status_code == 303 and approved.headers["location"] == f"/proposals/{pid}/orders"
    with unit_of_work(engine) as session:
        assert session.get(Proposal, pid).state == "ordered"
        orders = list(session.scalars(select(PurchaseOrder).where(PurchaseOrder.proposal_id == pid)))
        # SUP-A (the two jackets, lead 30 days) and SUP-C (the kitchen line and none of the fillers).
        assert sorted(o.supplier.code for o in orders) == ["SUP-A", "SUP-C"]
    page = mei.get(f"/proposals/{pid}/orders")
    assert page.text.count("not written yet") == 2 and 'id="export-button"' in page.text
    exported = mei.post(
        "/orders/export", data={"csrf_token": csrf_from(page.text), "next": f"/proposals/{pid}/orders"}
    )
    assert exported.status_code == 200
    assert "not written yet" not in exported.text
    with unit_of_work(engine) as session:
        files = list(session.scalars(select(SupplierFile).order_by(SupplierFile.id)))
        assert session.get(Proposal, pid).state == "exported"
    assert [f.export_format for f in files] == ["csv", "xlsx"]
    outbox = Path(app.state.settings.export.outbox)
    for sealed in files:
        download = mei.get(f"/files/{sealed.id}")
        assert download.status_code == 200
        assert download.headers["content-disposition"] == f'attachment; filename="{sealed.file_name}"'
        assert download.content == (outbox / sealed.file_name).read_bytes()
        assert hashlib.sha256(download.content).hexdigest() == sealed.sha256
        assert mei.get(f"/api/v1/files/{sealed.id}").content == download.content
    listed = mei.get(f"/api/v1/purchase-orders?proposal={pid}").json()
    assert {o["file"]["file_name"] for o in listed} == {f.file_name for f in files}
    # Approving again changes nothing; writing the files again writes nothing new.
    again = mei.post(
        f"/api/v1/proposals/{pid}/approve", json={}, headers={"X-CSRF-Token": csrf_from(page.text)}
    )
    assert again.status_code == 200 and again.json()["created"] is False
    assert (
        mei.post("/api/v1/purchase-orders/export", headers={"X-CSRF-Token": csrf_from(page.text)}).json()[
            "written"
        ]
        == []
    )


def test_a_rejected_proposal_cannot_be_approved(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    token = csrf_from(mei.get(f"/proposals/{pid}").text)
    headers = {"X-CSRF-Token": token}
    refused = mei.post(f"/api/v1/proposals/{pid}/reject", json={"reason_code": "other"}, headers=headers)
    assert refused.status_code == 422 and "other" in refused.json()["detail"]
    rejected = mei.post(
        f"/api/v1/proposals/{pid}/reject",
        json={"reason_code": "budget", "note": "over plan"},
        headers=headers,
    )
    assert rejected.json() == {"proposal_id": pid, "state": "rejected"}
    late = mei.post(f"/api/v1/proposals/{pid}/approve", json={}, headers=headers)
    assert late.status_code == 409 and "rejected" in late.json()["detail"]
    page = mei.get(f"/proposals/{pid}/decide")
    assert 'id="approve-form"' not in page.text and 'id="decided"' in page.text


def test_the_impact_is_shown_in_the_users_language(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    token = csrf_from(mei.get(f"/proposals/{pid}").text)
    mei.post("/language", data={"csrf_token": token, "language": "zh_CN", "next": "/"})
    line = _line(engine, pid, "DJK-002")
    response = mei.post(
        f"/proposals/{pid}/lines/{line.id}",
        data={"csrf_token": token, "units": "50", "reason_code": "budget", "action": "save"},
    )
    assert response.status_code == 200
    assert "SUP-A 降到第 2 档以下（SUP-A-2026，现为第 1 档）" in response.text
    decide = mei.get(f"/proposals/{pid}/decide")
    assert "批准并生成采购订单" in decide.text


def test_approving_only_the_selected_lines_shows_the_impact_first_then_rejects_the_rest(
    client_as, shop
) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    keep = [_line(engine, pid, "DJK-001").id, _line(engine, pid, "KIT-001").id]
    grid = mei.get(f"/proposals/{pid}/lines")
    assert f'name="line" value="{keep[0]}" form="select-form"' in grid.text
    preview = mei.get(f"/proposals/{pid}/decide", params={"line": keep})
    assert "2 / 3 lines selected" in preview.text
    # Leaving DJK-002 out takes ¥40,000 off SUP-A: ¥1,960,000 is below tier 2's ¥2,000,000.
    assert "SUP-A drops below tier 2 (SUP-A-2026, now tier 1)" in preview.text
    api_view = mei.get(f"/api/v1/proposals/{pid}/review", params={"line": keep}).json()
    assert api_view["selected"] == sorted(keep) and api_view["findings"][0]["code"] == "tier_lost"
    token = csrf_from(preview.text)
    no_reason = mei.post(f"/proposals/{pid}/approve", data={"csrf_token": token, "line": keep})
    assert no_reason.status_code == 422 and "a reason code is required" in no_reason.text
    with unit_of_work(engine) as session:
        assert session.get(Proposal, pid).state == "draft"  # the refusal changed nothing
    done = mei.post(
        f"/proposals/{pid}/approve",
        data={"csrf_token": token, "line": keep, "leave_out_reason": "budget"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    left_out = _line(engine, pid, "DJK-002")
    assert (left_out.state, left_out.reason_code, left_out.changed_by) == ("rejected", "budget", "mei")
    with unit_of_work(engine) as session:
        orders = session.scalars(select(PurchaseOrder).where(PurchaseOrder.proposal_id == pid)).all()
        assert sorted((o.supplier.code, [ln.sku_code for ln in o.lines]) for o in orders) == [
            ("SUP-A", ["DJK-001"]),
            ("SUP-C", ["KIT-001"]),
        ]
        states = [
            e.after["state"]
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "approve"))
        ]
        assert states == ["partially_approved"]


def test_a_rejected_line_counts_in_no_total_or_tier(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    token = csrf_from(mei.get(f"/proposals/{pid}").text)
    line = _line(engine, pid, "DJK-002")
    rejected = mei.patch(
        f"/api/v1/proposals/{pid}/lines/{line.id}",
        json={"reject": True, "reason_code": "quality_issue"},
        headers={"X-CSRF-Token": token},
    )
    assert rejected.status_code == 200 and rejected.json()["line"]["state"] == "rejected"
    view = mei.get(f"/api/v1/proposals/{pid}").json()
    # Only DJK-001 (¥60,000) is still bought from SUP-A: ¥1,900,000 + ¥60,000 stays in tier 1.
    tier = next(t for t in view["tiers"] if t["agreement"] == "SUP-A-2026")
    assert (tier["this_proposal"], tier["tier_after"]) == ("60000.00", 1)
    assert {g["key"]: g["value"] for g in view["by_supplier"]} == {"SUP-A": "60000.00", "SUP-C": "360.00"}
    assert view["proposal"]["lines"] == 3  # the grid still lists it, struck through


def test_audit_log_filters_by_user_entity_key_and_business_date(client_as, shop, engine) -> None:  # type: ignore[no-untyped-def]
    _, pid = shop
    with unit_of_work(engine) as session:
        # someone else's entry, the business day before (2026-08-30 23:30 in Shanghai)
        session.add(
            AuditEntry(
                at=datetime(2026, 8, 30, 15, 30, tzinfo=UTC), actor="ada", action="import",
                entity="import", entity_key="inbox", note=None,
            )
        )
    mei = client_as("mei")
    token = csrf_from(mei.get(f"/proposals/{pid}").text)
    line = _line(engine, pid, "DJK-001")
    edited = mei.patch(
        f"/api/v1/proposals/{pid}/lines/{line.id}",
        json={"units": 130, "reason_code": "promotion_plan_changed"},
        headers={"X-CSRF-Token": token},
    )
    assert edited.status_code == 200, edited.text

    def audit(**params: str) -> list[tuple[str, str]]:
        response = mei.get("/api/v1/audit", params=params)
        assert response.status_code == 200, response.text
        return [(e["actor"], e["action"]) for e in response.json()]

    mine = audit(actor="mei")
    assert mine and {actor for actor, _ in mine} == {"mei"}
    assert audit(actor="ada") == [("ada", "import")]
    # business dates in Asia/Shanghai: the test clock's now is 2026-08-31 09:00 there
    assert ("ada", "import") not in audit(since="2026-08-31")
    assert audit(since="2026-08-30", until="2026-08-30") == [("ada", "import")]
    assert set(audit(since="2026-08-31", until="2026-08-31", actor="mei")) == set(mine)
    assert ("setup", "user_add") in audit(since="2026-08-31", until="2026-08-31")  # the shop's accounts
    assert audit(key="inbox") == [("ada", "import")]
    assert mei.get("/api/v1/audit", params={"since": "2026-09-01", "until": "2026-08-01"}).status_code == 422
    assert mei.get("/api/v1/audit", params={"since": "yesterday"}).status_code == 422
    page = mei.get("/audit", params={"actor": "ada"})
    assert page.status_code == 200
    assert "<option selected>ada</option>" in page.text and "inbox" in page.text
    assert "promotion_plan_changed" not in page.text  # mei's edit is filtered out


def test_an_edit_shows_at_once_in_the_grid_overview_and_detail_already_read(client_as, shop, engine) -> None:  # type: ignore[no-untyped-def]
    """The grid's rows are remembered per exact stored row and language, the parsed problem per
    digest: an edit (and the language switch) must show in the very next read of each."""
    _, pid = shop
    mei = client_as("mei")
    token = csrf_from(mei.get(f"/proposals/{pid}").text)
    line = _line(engine, pid, "DJK-001")

    def grid_row() -> dict:
        rows = mei.get(f"/api/v1/proposals/{pid}/lines", params={"q": "DJK-001"}).json()["rows"]
        return next(r for r in rows if r["id"] == line.id)

    before = grid_row()
    overview = mei.get(f"/api/v1/proposals/{pid}").json()
    assert mei.get(f"/api/v1/proposals/{pid}/lines/{line.id}").json()["line"]["units"] == before["units"]
    edited = mei.patch(
        f"/api/v1/proposals/{pid}/lines/{line.id}",
        json={"units": 130, "reason_code": "promotion_plan_changed"},
        headers={"X-CSRF-Token": token},
    )
    assert edited.status_code == 200, edited.text
    after = grid_row()
    assert (after["units"], after["state"]) == (130, "edited")
    assert after["line_version"] == before["line_version"] + 1
    assert after["reason_code"] == "promotion_plan_changed" and after["changed_by"] == "mei"
    assert mei.get(f"/api/v1/proposals/{pid}/lines/{line.id}").json()["line"]["units"] == 130
    sup_a = next(g for g in mei.get(f"/api/v1/proposals/{pid}").json()["by_supplier"] if g["key"] == "SUP-A")
    sup_a_before = next(g for g in overview["by_supplier"] if g["key"] == "SUP-A")
    assert sup_a["units"] == sup_a_before["units"] - before["units"] + 130
    switched = mei.put("/api/v1/me/language", json={"language": "zh_CN"}, headers={"X-CSRF-Token": token})
    assert switched.status_code == 200, switched.text
    mei.cookies.set("restock_lang", "zh_CN")
    assert grid_row()["reason"] != after["reason"]  # the same row, now in Chinese
