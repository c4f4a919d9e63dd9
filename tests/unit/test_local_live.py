"""What `serve` prints while it runs, and the two clocks of the delivery loop."""

from __future__ import annotations

import json
from datetime import datetime

from local.clock import RealClock, VirtualClock
from local.live import LiveView


def item(image: str, status: str, at: str, **extra: object) -> dict[str, dict[str, str]]:
    fields = {"imageId": image, "userId": "me", "status": status, "updatedAt": at,
              "uploadKey": f"uploads/me/{image}.jpg", **extra}
    return {k: {"S": str(v)} for k, v in fields.items()}


def view() -> tuple[LiveView, list[str]]:
    lines: list[str] = []
    return LiveView(emit=lines.append, clock=lambda: datetime(2026, 11, 28, 12, 1, 5)), lines


def test_each_ending_is_one_line_and_the_totals_line_only_when_totals_move():
    live, lines = view()
    variants = json.dumps([{"key": "k", "width": 1, "height": 1, "bytes": 1}] * 3)
    live.update([item("a", "processing", "t1")], uploads=1, running=1, dead_lettered=0, alerts=[])
    live.update([item("a", "completed", "t2", variants=variants)], uploads=1, running=0, dead_lettered=0, alerts=[])
    live.update([item("a", "completed", "t2", variants=variants)], uploads=1, running=0, dead_lettered=0, alerts=[])
    assert lines == [
        "12:01:05 uploads 1 · running 1 · completed 0 · failed 0 · rejected 0 · bad keys 0 · dead-lettered 0 · "
        "alerts 0",
        "12:01:05 completed       uploads/me/a.jpg  3 variants",
        "12:01:05 uploads 1 · running 0 · completed 1 · failed 0 · rejected 0 · bad keys 0 · dead-lettered 0 · "
        "alerts 0",
    ]


def test_a_re_upload_that_ends_again_is_shown_again_with_its_reason_on_one_line():
    live, lines = view()
    live.update([item("a", "completed", "t1", variants="[]")], uploads=1, running=0, dead_lettered=0, alerts=[])
    live.update([item("a", "failed", "t2", reason="the file is not an image\n(it starts with b'text')")],
                uploads=2, running=0, dead_lettered=0, alerts=[{"Subject": "image-pipeline: 1 image failed"}])
    assert "12:01:05 failed          uploads/me/a.jpg  the file is not an image (it starts with b'text')" in lines
    assert "12:01:05 ALERT           image-pipeline: 1 image failed" in lines
    assert lines[-1].endswith("completed 0 · failed 1 · rejected 0 · bad keys 0 · dead-lettered 0 · alerts 1")


def test_moderation_rejections_and_bad_keys_are_counted_apart_and_index_items_ignored():
    live, lines = view()
    claim = {"imageId": {"S": "sha256:ab"}, "userId": {"S": "me/content"}, "kind": {"S": "fingerprint"}}
    live.update([item("a", "rejected", "t1", reason='moderation labels: ["Violence"]'), claim], uploads=2,
                running=0, dead_lettered=0, alerts=[], bad_keys=["key 'uploads/x.jpg' is not uploads/{userId}/..."])
    assert lines[:2] == ['12:01:05 rejected        uploads/me/a.jpg  moderation labels: ["Violence"]',
                         "12:01:05 bad key         key 'uploads/x.jpg' is not uploads/{userId}/..."]
    assert "completed 0 · failed 0 · rejected 1 · bad keys 1 ·" in lines[-1]


def test_the_virtual_clock_jumps_and_the_real_one_only_reports_moments_past():
    virtual = VirtualClock()
    assert virtual.jump_to(360.0) and virtual.now() == 360.0
    assert virtual.jump_to(10.0) and virtual.now() == 360.0  # never backwards
    real = RealClock(poll_seconds=0)
    assert real.jump_to(real.now() - 1) and not real.jump_to(real.now() + 3600)


def test_outcomes_restored_from_state_are_not_shown_again():
    live, lines = view()
    restored = [item("a", "completed", "t1", variants="[]"), item("b", "failed", "t1", reason="bad")]
    live.prime(restored)
    live.update(restored, uploads=0, running=0, dead_lettered=0, alerts=[{"Message": "hello,\n not JSON"}])
    assert lines == ["12:01:05 ALERT           hello, not JSON",
                     "12:01:05 uploads 0 · running 0 · completed 1 · failed 1 · rejected 0 · bad keys 0 · "
                     "dead-lettered 0 · alerts 1"]
