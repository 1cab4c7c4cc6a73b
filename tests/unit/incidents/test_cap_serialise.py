"""CAP 1.2 serialising: offsets, UTC as -00:00, and what CAP cannot carry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from incidents.cap_xml import export_cap
from tests.unit.incidents.cap_samples import (
    LINK_TEST,
    RAIN,
    alert_of,
)


def test_export_keeps_offsets_and_writes_utc_as_minus_zero() -> None:
    rain = export_cap(alert_of(RAIN)).decode("utf-8")
    assert "<sent>2025-07-29T10:30:00+08:00</sent>" in rain
    link = export_cap(alert_of(LINK_TEST)).decode("utf-8")
    assert "<sent>2025-08-01T00:00:00-00:00</sent>" in link
    assert '<addresses>xtyjj@xingtai.gov.cn "邢台市应急指挥中心 值班室"</addresses>' in link
    late = msgspec.structs.replace(
        alert_of(LINK_TEST),
        sent=datetime(2025, 8, 1, 9, 5, 7, 999999, tzinfo=timezone(-timedelta(hours=3,
                                                                                minutes=30))))
    assert "<sent>2025-08-01T09:05:07-03:30</sent>" in export_cap(late).decode("utf-8")


def test_export_refuses_what_cap_cannot_carry() -> None:
    link = alert_of(LINK_TEST)
    with pytest.raises(ValueError, match="timezone-aware"):
        export_cap(msgspec.structs.replace(link, sent=datetime(2025, 8, 1)))
    with pytest.raises(ValueError, match="XML 1.0"):
        export_cap(msgspec.structs.replace(link, note="bell \x07"))
    with pytest.raises(ValueError, match="address"):
        export_cap(msgspec.structs.replace(link, addresses=('say "hi"',)))
