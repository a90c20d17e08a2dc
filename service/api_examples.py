"""One worked example for every API operation, shown on /api/docs.

Kept apart from the handlers so the routes stay short; keyed by operation id (the
handler's name). A test checks that every route has one, that its path fits the route,
and that its request and response bodies pass the operation's own models, so an example
cannot drift from what the API accepts and answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Example:
    path: str  # a concrete path, query string included
    request: Any = None  # a JSON body, or the text of a CSV upload
    response: Any = None  # the JSON answer (None for files and empty answers)


AT = "2026-12-15T08:00:00+07:00"
LATER = "2026-12-15T11:30:00+07:00"
CREATED = "2026-11-30T09:15:00+07:00"
CONF = "/api/v1/conferences/HN-NQ14-LC"
DELEGATE_PATH = CONF + "/delegates/1042"

UNIT = {
    "code": "LC-TD",
    "name": "Huyện Tam Đường",
    "level": "district",
    "parent_code": "LC",
    "path": "/VN/LC/LC-TD/",
    "created_at": CREATED,
    "updated_at": CREATED,
}
LAST_TEST = {
    "kind": "link_test",
    "passed": True,
    "rtt_ms": 42.5,
    "jitter_ms": 3.1,
    "loss_pct": 0.0,
    "audio_ok": True,
    "video_ok": True,
    "tested_at": CREATED,
}
SITE = {
    "code": "LC-TD-BB",
    "name": "Hội trường UBND xã Bản Bo",
    "unit_code": "LC-TD",
    "unit_name": "Huyện Tam Đường",
    "level": "commune",
    "address": "Bản Bo, Tam Đường, Lai Châu",
    "capacity": 120,
    "technician": {"name": "Lò Văn Thành", "phone": "0912345678"},
    "endpoint": {"protocol": "sip", "uri": "sip:banbo@vnpt.vn", "provider": "VNPT"},
    "status": "tested",
    "status_at": CREATED,
    "last_test": LAST_TEST,
    "created_at": CREATED,
    "updated_at": CREATED,
}
SITE_IN = {
    "code": "LC-TD-BB",
    "name": "Hội trường UBND xã Bản Bo",
    "unit_code": "LC-TD",
    "level": "commune",
    "capacity": 120,
    "technician": {"name": "Lò Văn Thành", "phone": "0912 345 678"},
    "endpoint": {"protocol": "sip", "uri": "sip:banbo@vnpt.vn", "provider": "VNPT"},
}
LINK_TEST = {
    "id": 7,
    **{k: v for k, v in LAST_TEST.items() if k != "tested_at"},
    "note": "thử từ hội trường",
    "tested_at": CREATED,
    "tested_by": "technician#12 (KT Tam Đường)",
}
CONFERENCE = {
    "code": "HN-NQ14-LC",
    "title": "Hội nghị học tập, quán triệt Nghị quyết Đại hội XIV",
    "starts_at": AT,
    "ends_at": LATER,
    "checkin_opens_at": "2026-12-15T07:00:00+07:00",
    "timezone": "Asia/Ho_Chi_Minh",
    "host_site": "LC-HT",
    "policy": {"other_site": "accept"},
    "targets": {"member": 0.98, "non_member": 0.9},
    "status": "draft",
    "unit_code": "LC",
    "signed_off_at": None,
    "created_at": CREATED,
    "updated_at": CREATED,
    "sites_count": 145,
    "delegates_count": 11873,
}
CONFERENCE_IN = {
    "code": "HN-NQ14-LC",
    "title": "Hội nghị học tập, quán triệt Nghị quyết Đại hội XIV",
    "starts_at": "2026-12-15T08:00",
    "ends_at": "2026-12-15T11:30",
    "host_site": "LC-HT",
    "sites": ["LC-TD-BB", "LC-TD-BG"],
    "targets": {"member": 0.98, "non_member": 0.9},
    "unit_code": "LC",
}
CONFERENCE_SITE = {
    "code": "LC-TD-BB",
    "name": "Hội trường UBND xã Bản Bo",
    "unit_code": "LC-TD",
    "level": "commune",
    "capacity": 120,
    "status": "ready",
    "delegates": 96,
}
DELEGATE = {
    "id": 1042,
    "external_id": "LC-0001042",
    "full_name": "Nguyễn Thị Phương Thảo",
    "category": "member",
    "site_code": "LC-TD-BB",
    "unit_code": "LC-TD-BB",
    "credential_version": 1,
    "revoked": False,
    "phone": "0912345678",
    "email": None,
}
JWK = {
    "kty": "OKP",
    "crv": "Ed25519",
    "kid": "1234ABCD",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    "use": "sig",
    "alg": "EdDSA",
    "conference": "HN-NQ14-LC",
    "conference_id": 3,
    "signing": True,
    "created_at": CREATED,
}
QR = "DC1." + "A" * 31 + "." + "B" * 103
CREDENTIAL = {"delegate_id": 1042, "credential_version": 2, "revoked": False, "qr": QR}
COUNTS = {"total": 12, "registered": 2, "tested": 3, "ready": 7, "statuses": {"registered": 2}}
ROSTER_CSV = (
    "external_id,full_name,category,site_code,unit_code,phone,email\n"
    "LC-0001042,Nguyễn Thị Phương Thảo,đảng viên,LC-TD-BB,,0912345678,\n"
)
SITES_CSV = (
    "code,name,unit_code,level,capacity,technician_phone,endpoint_protocol,endpoint_uri\n"
    "LC-TD-BB,Hội trường UBND xã Bản Bo,LC-TD,commune,120,0912345678,sip,sip:banbo@vnpt.vn\n"
)

SITE_PATH = CONF + "/sites/LC-TD-BB"
SCAN_ID = "5f0c1a3e-8d2b-4c1e-9a77-0b6f3d2e4a10"
SCAN = {"scan_id": SCAN_ID, "scanned_at": "2026-12-15T07:41:12+07:00", "qr": QR}
BRIEF = {k: DELEGATE[k] for k in ("id", "full_name", "category", "unit_code", "site_code")} | {
    "unit_name": "Xã Bản Bo",
    "site_name": "Hội trường UBND xã Bản Bo",
}
RESULT = {
    "scan_id": SCAN_ID,
    "result": "accepted",
    "direction": "in",
    "moved": False,
    "reentry": False,
    "skewed": False,
    "delegate": BRIEF,
    "first": None,
    "message": {"vi": "Đã điểm danh", "en": "Checked in"},
}
KIOSK = {
    "id": 311,
    "device_name": "Laptop cửa chính",
    "enrolled_at": CREATED,
    "last_seen_at": "2026-12-15T07:41:15+07:00",
    "online": True,
    "queue_length": 0,
    "app_version": None,
    "scans": 96,
    "revoked_at": None,
}
KIOSK_CONFERENCE = {
    k: CONFERENCE[k]
    for k in ("code", "title", "starts_at", "ends_at", "checkin_opens_at", "timezone", "status")
} | {"id": 3, "policy": {"other_site": "accept"}}
KIOSK_SITE = {
    "id": 212,
    "code": "LC-TD-BB",
    "name": "Hội trường UBND xã Bản Bo",
    "unit_code": "LC-TD",
    "unit_name": "Huyện Tam Đường",
}
ROSTER_ENTRY = {k: v for k, v in DELEGATE.items() if k not in ("phone", "email")} | {
    "unit_name": "Xã Bản Bo"
}

HEADCOUNT = {
    "id": 52,
    "headcount_id": None,
    "site_code": "LC-TD-BB",
    "moment": "start",
    "counted_at": AT,
    "members": 88,
    "non_members": 7,
    "guests": 2,
    "total": 97,
    "note": "đếm lúc khai mạc",
    "by": "technician#12 KT Tam Đường",
    "recorded_at": "2026-12-15T08:02:10+07:00",
}
ABSENCE = {
    "delegate_id": 1042,
    "external_id": "LC-0001042",
    "full_name": "Nguyễn Thị Phương Thảo",
    "category": "member",
    "site_code": "LC-TD-BB",
    "unit_code": "LC-TD-BB",
    "reason": "sick",
    "note": "nằm viện",
    "makeup_owed": True,
    "by": "technician#12 KT Tam Đường",
    "recorded_at": "2026-12-15T09:10:00+07:00",
    "updated_at": "2026-12-15T09:10:00+07:00",
}
_COUNTS = {"expected": {"member": 90, "non_member": 8, "guest": 2},
           "checked_in": {"member": 88, "non_member": 7, "guest": 2},
           "walk_ins": 3, "walk_ins_by_category": {"member": 0, "non_member": 3, "guest": 0},
           "rates": {"member": 0.9778, "non_member": 0.875, "guest": 1.0}}  # fmt: skip
FLAG = {
    "id": "LC-TD-BB.headcount_mismatch",
    "kind": "headcount_mismatch",
    "site_code": "LC-TD-BB",
    "detail": {"headcount": 112, "checked_in": 97, "walk_ins": 3, "difference": 12},
    "status": "open",
    "resolution": None,
}
RESOLUTION = {
    "action": "accept_headcount",
    "figure": None,
    "note": "kiosk hỏng 10 phút đầu; đếm trong hội trường là đúng",
    "by": "organiser#1 Ban tổ chức",
    "at": "2026-12-15T13:20:00+07:00",
}
RECONCILIATION = {
    "conference": {
        "code": "HN-NQ14-LC",
        "title": "Hội nghị học tập, quán triệt Nghị quyết Đại hội XIV",
        "checkin_opens_at": "2026-12-15T07:00:00+07:00",
        "starts_at": AT,
        "ends_at": LATER,
        "timezone": "Asia/Ho_Chi_Minh",
        "host_site": "LC-HT",
        "policy": {"other_site": "accept"},
        "targets": {"member": 0.98, "non_member": 0.9},
    },
    "status": "closed",
    "scope": "LC-TD",
    "computed_at": "2026-12-15T13:05:00+07:00",
    "signed_off_at": None,
    "report_sha256": None,
    "totals": {**_COUNTS, "sites": 1, "targets": {"member": 0.98, "non_member": 0.9}},
    "levels": [{**_COUNTS, "level": "commune", "sites": 1}],
    "units": [
        {
            **_COUNTS,
            "unit_code": "LC-TD",
            "unit_name": "Huyện Tam Đường",
            "level": "district",
            "parent_code": "LC",
            "sites": 1,
        }
    ],
    "sites": [
        {
            **_COUNTS,
            "site_code": "LC-TD-BB",
            "site_name": "Hội trường UBND xã Bản Bo",
            "unit_code": "LC-TD",
            "level": "commune",
            "moved_in": 1,
            "moved_out": 0,
            "exits": 6,
            "reentries": 5,
            "present": 99,
            "headcounts": {
                "start": {
                    "id": 52,
                    "moment": "start",
                    "counted_at": AT,
                    "members": 103,
                    "non_members": 7,
                    "guests": 2,
                    "total": 112,
                    "note": "đếm lúc khai mạc",
                },
                "after_break": None,
                "end": None,
            },
            "capacity": 120,
            "absences": {"sick": 1, "on_duty": 1, "travel": 0, "other": 0},
            "makeup_owed": 1,
        }
    ],
    "flags": [FLAG],
    "open_flags": 1,
}

LIVE_SITE = {
    "expected": {"member": 96, "non_member": 24, "guest": 3},
    "checked_in": {"member": 91, "non_member": 19, "guest": 2},
    "walk_ins": 4,
    "moved_in": 1,
    "moved_out": 0,
    "present": 112,
    "headcount": None,
    "capacity": 120,
    "over_capacity": False,
    "kiosk_online": True,
    "link": "connected",
    "last_scan_at": "2026-12-15T07:58:41+07:00",
    "name": "Hội trường UBND xã Bản Bo",
    "unit_code": "LC-TD-BB",
    "status": "ready",
}
LIVE_UNIT = {
    "expected": {"member": 96, "non_member": 24, "guest": 3},
    "checked_in": {"member": 91, "non_member": 19, "guest": 2},
    "walk_ins": 4,
    "present": 112,
    "sites": 1,
    "name": "Huyện Tam Đường",
    "level": "district",
    "parent_code": "LC",
}
LIVE_VIEW = {
    "seq": 48210,
    "conference": {
        "code": "HN-NQ14-LC",
        "title": "Hội nghị học tập, quán triệt Nghị quyết",
        "timezone": "Asia/Ho_Chi_Minh",
        "checkin_opens_at": "2026-12-15T07:00:00+07:00",
        "starts_at": AT,
        "ends_at": LATER,
        "status": "live",
        "targets": {"member": 0.98, "non_member": 0.9},
        "unit_code": "LC",
    },
    "scope": {"unit": "LC-TD"},
    "totals": {
        **{k: v for k, v in LIVE_UNIT.items() if k not in ("name", "level", "parent_code")},
        "rates": {"member": 0.9479, "non_member": 0.7917},
        "targets": {"member": 0.98, "non_member": 0.9},
        "arrivals": {"from": "2026-12-15T07:41:00+07:00", "per_minute": [3, 11, 26, 40, 31]},
    },
    "sites": {"LC-TD-BB": LIVE_SITE},
    "units": {"LC-TD": LIVE_UNIT},
}

EXAMPLES: dict[str, Example] = {
    "get_health": Example(
        "/healthz",
        response={"status": "ok", "database": "ok", "workers": {"alive": 2, "configured": 2}},
    ),
    "get_metrics": Example("/metrics"),
    "get_openapi": Example("/api/openapi.json"),
    "get_docs": Example("/api/docs"),
    "get_docs_asset": Example("/api/docs/swagger-ui.css"),
    "get_kiosk_page": Example("/kiosk"),
    "get_kiosk_asset": Example("/kiosk/app.js"),
    "create_ws_ticket": Example(
        "/api/v1/ws-tickets", response={"ticket": "tk_5Jq0m", "expires_at": CREATED}
    ),
    "create_unit": Example(
        "/api/v1/units",
        request={
            "code": "LC-TD",
            "name": "Huyện Tam Đường",
            "level": "district",
            "parent_code": "LC",
        },
        response=UNIT,
    ),
    "list_units": Example(
        "/api/v1/units?under=LC&level=district", response={"items": [UNIT], "next": None}
    ),
    "import_units": Example(
        "/api/v1/units/import",
        request="code,name,level,parent_code\nLC-TD,Huyện Tam Đường,district,LC\n",
        response={"imported": 1, "updated": 0},
    ),
    "get_unit": Example(
        "/api/v1/units/LC-TD", response={**UNIT, "children": 14, "descendants": 14, "sites": 15}
    ),
    "delete_unit": Example("/api/v1/units/LC-TD-XX"),
    "list_unit_children": Example(
        "/api/v1/units/LC/children", response={"items": [UNIT], "next": None}
    ),
    "get_unit_readiness": Example(
        "/api/v1/units/LC-TD/readiness?limit=100",
        response={
            **COUNTS,
            "unit": {"code": "LC-TD", "name": "Huyện Tam Đường"},
            "units": [{**COUNTS, "code": "LC-TD-BB", "name": "Xã Bản Bo", "level": "commune"}],
            "missing": [
                {
                    "code": "LC-TD-NL",
                    "name": "Hội trường xã Nà Lăng",
                    "unit_code": "LC-TD",
                    "status": "registered",
                    "technician": {"name": "Lò Văn Thành", "phone": "0912345678"},
                    "last_test": None,
                }
            ],
            "missing_truncated": False,
        },
    ),
    "create_site": Example("/api/v1/sites", request=SITE_IN, response=SITE),
    "list_sites": Example(
        "/api/v1/sites?unit=LC-TD&status=tested&q=ban%20bo",
        response={"items": [SITE], "next": None},
    ),
    "import_sites": Example(
        "/api/v1/sites/import", request=SITES_CSV, response={"imported": 1, "updated": 0}
    ),
    "get_site": Example("/api/v1/sites/LC-TD-BB", response=SITE),
    "update_site": Example("/api/v1/sites/LC-TD-BB", request={"capacity": 150}, response=SITE),
    "create_link_test": Example(
        "/api/v1/sites/LC-TD-BB/link-tests",
        request={
            "rtt_ms": 42.5,
            "jitter_ms": 3.1,
            "loss_pct": 0,
            "audio_ok": True,
            "video_ok": True,
        },
        response={**LINK_TEST, "site_status": "tested"},
    ),
    "list_link_tests": Example(
        "/api/v1/sites/LC-TD-BB/link-tests?limit=5", response={"items": [LINK_TEST], "next": None}
    ),
    "confirm_site": Example("/api/v1/sites/LC-TD-BB/confirm", response={**SITE, "status": "ready"}),
    "ws_link_test": Example("/ws/link-test?site=LC-TD-BB"),
    "create_conference": Example("/api/v1/conferences", request=CONFERENCE_IN, response=CONFERENCE),
    "list_conferences": Example(
        "/api/v1/conferences?limit=20", response={"items": [CONFERENCE], "next": None}
    ),
    "get_conference": Example(CONF, response=CONFERENCE),
    "update_conference": Example(
        CONF,
        request={"ends_at": "2026-12-15T12:00"},
        response={**CONFERENCE, "ends_at": "2026-12-15T12:00:00+07:00"},
    ),
    "change_status": Example(
        CONF + "/status", request={"status": "open"}, response={**CONFERENCE, "status": "open"}
    ),
    "list_conference_sites": Example(CONF + "/sites", response={"items": [CONFERENCE_SITE]}),
    "set_conference_sites": Example(
        CONF + "/sites",
        request={"sites": ["LC-TD-BB", "LC-TD-BG"]},
        response={"items": [CONFERENCE_SITE]},
    ),
    "import_delegates": Example(
        CONF + "/delegates/import",
        request=ROSTER_CSV,
        response={
            "imported": 1,
            "updated": 0,
            "unchanged": 0,
            "rows": 1,
            # A namesake already at the site: imported, but worth a look.
            "warnings": [
                {
                    "row": 1,
                    "field": "full_name",
                    "message": "Cùng họ tên và điểm cầu LC-TD-BB với đại biểu mã LC-0000917 "
                    "đã có; hãy kiểm tra đây là hai người",
                }
            ],
            "warning_count": 1,
        },
    ),
    "list_delegates": Example(
        CONF + "/delegates?site=LC-TD-BB&category=member&q=phuong%20thao",
        response={"items": [DELEGATE], "next": None},
    ),
    "create_delegate": Example(
        CONF + "/delegates",
        request={
            "external_id": "LC-0001042",
            "full_name": "Nguyễn Thị Phương Thảo",
            "category": "đảng viên",
            "site_code": "LC-TD-BB",
            "phone": "0912345678",
        },
        response=DELEGATE,
    ),
    "get_delegate": Example(DELEGATE_PATH, response=DELEGATE),
    "update_delegate": Example(
        DELEGATE_PATH,
        request={"site_code": "LC-TD-BG"},
        response={**DELEGATE, "site_code": "LC-TD-BG", "credential_version": 2},
    ),
    "delete_delegate": Example(DELEGATE_PATH),
    "get_keys": Example(CONF + "/keys", response={"keys": [JWK]}),
    "rotate_key": Example(
        CONF + "/keys/rotate", response={"signing_kid": "1234ABCD", "keys": [JWK]}
    ),
    "retire_key": Example(CONF + "/keys/0A1B2C3D/retire", response={"keys": [JWK]}),
    "get_qr_png": Example(DELEGATE_PATH + "/qr.png"),
    "get_qr_svg": Example(DELEGATE_PATH + "/qr.svg"),
    "get_pass_png": Example(DELEGATE_PATH + "/pass.png"),
    "get_badges_pdf": Example(CONF + "/sites/LC-TD-BB/badges.pdf"),
    "reissue_credential": Example(DELEGATE_PATH + "/reissue", response=CREDENTIAL),
    "revoke_credential": Example(
        DELEGATE_PATH + "/revoke", response={**CREDENTIAL, "revoked": True, "qr": None}
    ),
    "create_kiosk_code": Example(
        SITE_PATH + "/kiosk-codes",
        response={
            "code": "7KQ4-MZ2P",
            "expires_at": "2026-12-16T09:15:00+07:00",
            "enroll_url": "https://diemcau.laichau.gov.vn/kiosk#enroll=7KQ4MZ2P",
            "qr_png": SITE_PATH + "/kiosk-codes/7KQ4MZ2P/qr.png",
        },
    ),
    "get_kiosk_code_qr": Example(SITE_PATH + "/kiosk-codes/7KQ4MZ2P/qr.png"),
    "open_enroll_link": Example("/K/7KQ4MZ2P"),
    "enroll_kiosk": Example(
        "/api/v1/kiosks/enroll",
        request={"code": "7KQ4-MZ2P", "device_name": "Laptop cửa chính"},
        response={
            "token": "dc_…",
            "kiosk": {"id": 311, "device_name": "Laptop cửa chính"},
            "conference": KIOSK_CONFERENCE,
            "site": KIOSK_SITE,
            "keys": {"keys": [JWK]},
        },
    ),
    "preview_enrollment": Example(
        "/api/v1/kiosks/enroll/preview",
        request={"code": "7KQ4-MZ2P"},
        response={
            "conference": KIOSK_CONFERENCE,
            "site": KIOSK_SITE,
            "expires_at": "2026-12-16T09:15:00+07:00",
            "device_name": "Máy 2",
        },
    ),
    "list_site_kiosks": Example(SITE_PATH + "/kiosks", response={"items": [KIOSK], "next": None}),
    "revoke_site_kiosk": Example(
        SITE_PATH + "/kiosks/311/revoke", response={**KIOSK, "online": False, "revoked_at": LATER}
    ),
    "get_kiosk": Example(
        "/api/v1/kiosk",
        response={
            "kiosk": {"id": 311, "device_name": "Laptop cửa chính"},
            "conference": KIOSK_CONFERENCE,
            "site": KIOSK_SITE,
            "counts": {
                "expected": {"member": 80, "non_member": 14, "guest": 2},
                "checked_in": {"member": 77, "non_member": 12, "guest": 2},
                "walk_ins": 3,
                "present": 90,
                "exits": 4,
                "last_scan_at": "2026-12-15T07:58:02+07:00",
            },
            "server_time": "2026-12-15T08:01:00+07:00",
        },
    ),
    "get_roster": Example(
        "/api/v1/kiosk/roster?since=48213",
        response={
            "version": "48230",
            "scope": "site",
            "full": False,
            "delegates": [ROSTER_ENTRY],
            "removed": [1077],
            "site_names": {"LC-TD-BB": "Hội trường UBND xã Bản Bo"},
            "keys": {"keys": [JWK]},
        },
    ),
    "search_delegates": Example(
        "/api/v1/kiosk/delegates?q=phuong%20thao",
        response={"items": [{**ROSTER_ENTRY, "checked_in": False}]},
    ),
    "post_heartbeat": Example(
        "/api/v1/kiosk/heartbeat",
        request={
            "sent_at": "2026-12-15T08:00:59.412+07:00",
            "queue_length": 0,
            "app_version": "web-1",
        },
        response={"server_time": "2026-12-15T08:01:00+07:00"},
    ),
    "post_checkins": Example(
        "/api/v1/checkins",
        request={
            "sent_at": "2026-12-15T07:42:31.250+07:00",
            "scans": [
                SCAN,
                {
                    "scan_id": "9a1d0c52-2f4e-4b8a-8c1d-5e2f7a9b3c04",
                    "scanned_at": "2026-12-15T07:42:30+07:00",
                    "method": "walk_in",
                    "full_name": "Hoàng Văn Khách",
                    "category": "quần chúng",
                },
            ],
        },
        response={
            "results": [
                RESULT,
                {
                    **RESULT,
                    "scan_id": "9a1d0c52-2f4e-4b8a-8c1d-5e2f7a9b3c04",
                    "delegate": None,
                    "walk_in": {"full_name": "Hoàng Văn Khách", "category": "non_member"},
                    "message": {"vi": "Đã ghi nhận khách vãng lai", "en": "Walk-in recorded"},
                },
            ]
        },
    ),
    "annul_checkin": Example(
        CONF + f"/checkins/{SCAN_ID}/annul",
        request={"reason": "quét nhầm thẻ của người khác"},
        response={
            "annulment_id": 3,
            "scan_id": SCAN_ID,
            "delegate_id": 1042,
            "voided": [SCAN_ID],
            "reason": "quét nhầm thẻ của người khác",
        },
    ),
    "list_site_checkins": Example(
        SITE_PATH + "/checkins?result=duplicate&limit=50",
        response={
            "items": [
                {
                    "scan_id": SCAN_ID,
                    "kiosk_id": 311,
                    "delegate_id": 1042,
                    "full_name": "Nguyễn Thị Phương Thảo",
                    "method": "qr",
                    "direction": "in",
                    "scanned_at": "2026-12-15T07:41:12+07:00",
                    "received_at": "2026-12-15T07:41:12+07:00",
                    "result": "duplicate",
                    "moved": False,
                    "reentry": False,
                    "skewed": False,
                    "annulled": False,
                }
            ],
            "next": None,
        },
    ),
    # Headcounts, absences, reconciliation and sign-off.
    "post_headcount": Example(
        SITE_PATH + "/headcounts",
        request={
            "moment": "start",
            "counted_at": AT,
            "members": 88,
            "non_members": 7,
            "guests": 2,
            "note": "đếm lúc khai mạc",
        },
        response=HEADCOUNT,
    ),
    "list_headcounts": Example(
        SITE_PATH + "/headcounts?moment=start",
        response={
            "items": [HEADCOUNT, {**HEADCOUNT, "id": 51, "members": 86, "total": 95}],
            "next": None,
            "latest": {"start": HEADCOUNT, "after_break": None, "end": None},
        },
    ),
    "post_absence": Example(
        CONF + "/absences",
        request={"delegate_id": 1042, "reason": "sick", "note": "nằm viện", "makeup_owed": True},
        response=ABSENCE,
    ),
    "import_absences": Example(
        CONF + "/absences/import",
        request="external_id,reason,note,makeup_owed\nLC-0001042,ốm,nằm viện,có\n"
        "LC-0001077,công tác,,không\n",
        response={"imported": 2, "updated": 0},
    ),
    "list_absences": Example(
        CONF + "/absences?makeup_owed=true", response={"items": [ABSENCE], "next": None}
    ),
    "get_makeup_csv": Example(CONF + "/absences/makeup.csv"),
    "get_makeup_xlsx": Example(CONF + "/absences/makeup.xlsx"),
    "get_absence": Example(CONF + "/absences/1042", response=ABSENCE),
    "delete_absence": Example(CONF + "/absences/1042"),
    "get_reconciliation": Example(CONF + "/reconciliation?unit=LC-TD", response=RECONCILIATION),
    "resolve_flag": Example(
        CONF + "/reconciliation/flags/LC-TD-BB.headcount_mismatch/resolve",
        request={
            "action": "accept_headcount",
            "note": "kiosk hỏng 10 phút đầu; đếm trong hội trường là đúng",
        },
        response={**FLAG, "status": "resolved", "resolution": RESOLUTION},
    ),
    "sign_off": Example(
        CONF + "/sign-off",
        response={
            "report_sha256": "9f2c1e0b7a4d3c2b1a0f9e8d7c6b5a4938271605f4e3d2c1b0a9f8e7d6c5b4a3",
            "signed_off_at": "2026-12-15T14:00:00+07:00",
        },
    ),
    "ws_kiosk": Example("/ws/kiosk"),
    "get_live": Example(CONF + "/live?unit=LC-TD", response=LIVE_VIEW),
    "ws_live": Example("/ws/conferences/HN-NQ14-LC/live?unit=LC-TD&since=48210"),
}
