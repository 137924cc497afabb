"""The chaos checker on hand-made histories: it passes a clean run and names
every loss, duplicate, gap and stale presence entry."""
from __future__ import annotations

from typing import Any

from chaos.checker import (Finding, check_history, check_presence, check_sends,
                           check_views)


def entry(seq: int, user: str = "u1", client_id: str | None = None,
          text: str | None = None) -> dict[str, Any]:
    return {"seq": seq, "id": f"m{seq}", "user": user,
            "client_id": client_id or f"c{seq}", "text": text or f"t{seq}"}


def acked(seq: int, user: str = "u1", room: str = "r") -> dict[str, Any]:
    return {"room": room, "user": user, "text": f"t{seq}", "status": "acked",
            "seq": seq, "id": f"m{seq}", "client_id": f"c{seq}"}


def kinds(findings: list[Finding]) -> list[str]:
    return [finding.kind for finding in findings]


CLEAN = {"r": [entry(1), entry(2), entry(3)]}


def test_a_clean_run_has_no_findings() -> None:
    sends = [acked(1), acked(2), acked(3)]
    views = {"u1": {"r": [[1, "m1"], [2, "m2"], [3, "m3"]]},
             "u2": {"r": [[1, "m1"], [2, "m2"], [3, "m3"]]}}
    assert check_history(CLEAN) == []
    assert check_sends(CLEAN, sends) == []
    assert check_views(CLEAN, views) == []
    assert check_presence({"r": ["u1", "u2"]}, {"r": {"u1": 1, "u2": 1}}) == []


def test_an_acked_message_missing_from_history_is_a_loss() -> None:
    history = {"r": [entry(1), entry(2)]}
    findings = check_sends(history, [acked(1), acked(2), acked(3)])
    assert kinds(findings) == ["lost"]
    assert "'t3' acked as seq 3 id m3: not in history" in str(findings[0])


def test_a_client_id_stored_twice_is_a_duplicate() -> None:
    history = {"r": [entry(1), entry(2, client_id="c1", text="t1"), entry(3)]}
    assert kinds(check_history(history)) == ["duplicate-client"]
    findings = check_sends(history, [acked(1), acked(3)])
    assert kinds(findings) == ["duplicated"]
    assert "stored at seqs [1, 2]" in findings[0].detail


def test_the_same_text_under_another_client_id_is_a_duplicate() -> None:
    history = {"r": [entry(1), entry(2, client_id="other", text="t1")]}
    assert kinds(check_sends(history, [acked(1)])) == ["duplicated"]


def test_an_id_stored_twice_is_a_duplicate() -> None:
    history = {"r": [entry(1), {**entry(2), "id": "m1"}]}
    assert "duplicate-id" in kinds(check_history(history))


def test_a_hole_in_history_seqs_is_reported() -> None:
    history = {"r": [entry(1), entry(3)]}
    findings = check_history(history)
    assert kinds(findings) == ["history-seq"]
    assert "seq 3 where 2 was expected" in findings[0].detail


def test_an_ack_that_disagrees_with_history_is_a_mismatch() -> None:
    history = {"r": [entry(1), entry(2)]}
    send = {**acked(2), "seq": 5}
    assert kinds(check_sends(history, [acked(1), send])) == ["mismatch"]


def test_sends_that_failed_or_never_got_an_ack_are_reported() -> None:
    history = {"r": [entry(1)]}
    sends = [{**acked(1), "status": "failed", "error": "INVALID_PAYLOAD"},
             {"room": "r", "user": "u1", "text": "t9", "status": "pending"}]
    findings = check_sends(history, sends)
    assert kinds(findings) == ["send-failed", "send-pending"]
    assert "stored at seq [1]" in findings[0].detail
    assert "not stored" in findings[1].detail


def test_a_view_with_a_gap_names_the_missing_seqs() -> None:
    history = {"r": [entry(seq) for seq in range(1, 8)]}
    views = {"u2": {"r": [[1, "m1"], [2, "m2"], [6, "m6"], [7, "m7"]]}}
    findings = check_views(history, views)
    assert kinds(findings) == ["view-gap"]
    assert findings[0].detail == "u2 never got seqs 3-5"


def test_a_view_with_a_message_twice_is_a_duplicate() -> None:
    views = {"u2": {"r": [[1, "m1"], [2, "m2"], [2, "m2"], [3, "m3"]]}}
    findings = check_views(CLEAN, views)
    assert kinds(findings) == ["view-duplicate"]
    assert "seqs 2 more than once" in findings[0].detail


def test_a_view_of_another_history_is_foreign() -> None:
    # What a client sees when a room's history started over under it.
    views = {"u2": {"r": [[1, "m1"], [2, "x2"], [3, "m3"]]}}
    assert kinds(check_views(CLEAN, views)) == ["view-foreign"]


def test_a_view_out_of_order_is_reported() -> None:
    views = {"u2": {"r": [[1, "m1"], [3, "m3"], [2, "m2"]]}}
    assert kinds(check_views(CLEAN, views)) == ["view-order"]


def test_presence_names_absent_stale_and_doubled_users() -> None:
    findings = check_presence({"r": ["u1", "u2", "u3"]},
                              {"r": {"u1": 1, "u2": 2, "ghost": 1}})
    assert kinds(findings) == ["presence-absent", "presence-stale",
                               "presence-devices"]
    assert "['u3']" in findings[0].detail
    assert "['ghost']" in findings[1].detail
    assert "u2=2" in findings[2].detail


def test_a_stored_message_nobody_sent_is_unexpected() -> None:
    history = {"r": [entry(1), entry(2, text="from nowhere"),
                     entry(3, user="chaos-check", text="end marker")]}
    findings = check_sends(history, [acked(1)])
    assert kinds(findings) == ["unexpected"]
    assert "seq 2 'from nowhere' of u1 was never sent" in findings[0].detail
