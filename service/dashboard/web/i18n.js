// Words shown to people, Vietnamese first, English on request (kept in localStorage).

const STRINGS = {
  vi: {
    title: "Bảng điểm danh trực tiếp",
    token_heading: "Mở bảng trực tiếp",
    token_help:
      "Dán mã truy cập của ban tổ chức hoặc mã xem (diemcau token create --role viewer --conference …).",
    token_label: "Mã truy cập",
    token_submit: "Mở bảng",
    token_bad: "Mã không hợp lệ, đã hết hạn hoặc đã bị thu hồi.",
    token_revoked: "Mã truy cập đã bị thu hồi. Cần mã mới.",
    not_found: "Không có hội nghị này, hoặc mã này không được xem hội nghị này.",
    forbidden: "Mã này không được xem bảng trực tiếp (chỉ ban tổ chức và mã xem).",
    forget: "Đổi mã truy cập",
    state_connecting: "Đang kết nối…",
    state_live: "Trực tiếp",
    state_behind: "Chậm: máy chủ chưa xác nhận số liệu với cơ sở dữ liệu",
    state_stale: "Chậm: chưa nhận tin mới từ máy chủ",
    state_offline: "Mất kết nối, đang thử lại",
    state_retry: "thử lại sau {s} giây",
    state_auth: "Cần mã truy cập",
    as_of: "số liệu lúc {t}",
    members: "Đảng viên",
    non_members: "Quần chúng",
    guests: "Khách mời",
    walk_ins: "Vãng lai",
    present: "Đang có mặt",
    sites: "Điểm cầu",
    online: "máy điểm danh trực tuyến",
    target: "mục tiêu {t}",
    under_target: "dưới mục tiêu",
    units: "Đơn vị",
    whole: "Toàn bộ",
    arrivals: "Lượt vào mỗi phút (60 phút gần nhất)",
    arrivals_scope: "Lượt vào mỗi phút của cả bảng (60 phút gần nhất)",
    arrivals_none: "Chưa có lượt vào",
    peak: "cao nhất {n}/phút",
    last_minute: "phút gần nhất {n}",
    readiness: "Sẵn sàng của các điểm cầu",
    readiness_help: "Trước giờ mở điểm danh: điểm cầu đã đăng ký, đã thử đường truyền, đã sẵn sàng.",
    registered: "Đã đăng ký",
    tested: "Đã thử",
    ready: "Sẵn sàng",
    total: "Tổng",
    search: "Tìm điểm cầu (không cần dấu: ha noi)",
    filter: "Lọc",
    f_all: "Tất cả",
    f_problems: "Có cảnh báo",
    f_red: "Cảnh báo đỏ",
    f_lost: "Mất đường truyền",
    f_silent: "Máy điểm danh im lặng",
    f_under: "Dưới mục tiêu",
    f_over: "Quá sức chứa",
    f_not_ready: "Chưa sẵn sàng",
    shown: "{n}/{m} điểm cầu",
    col_site: "Điểm cầu",
    col_unit: "Đơn vị",
    col_progress: "Đã điểm danh",
    col_members: "ĐV",
    col_non_members: "QC",
    col_present: "Có mặt",
    col_capacity: "Sức chứa",
    col_link: "Đường truyền",
    col_last: "Quét cuối",
    col_status: "Chuẩn bị",
    link_connected: "Tốt",
    link_degraded: "Chập chờn",
    link_lost: "Mất",
    link_unknown: "Chưa rõ",
    a_lost: "mất đường truyền",
    a_silent: "máy điểm danh im lặng",
    a_no_kiosk: "chưa có máy điểm danh",
    a_degraded: "đường truyền chập chờn",
    a_under: "dưới mục tiêu",
    a_over: "quá sức chứa",
    alerts_red: "{n} đỏ",
    alerts_amber: "{n} vàng",
    big: "Màn hình lớn",
    big_exit: "Thoát màn hình lớn",
    status_draft: "Chưa mở điểm danh",
    status_open: "Đang mở điểm danh",
    status_live: "Đang họp",
    status_closed: "Đã kết thúc",
    status_signed_off: "Đã chốt",
    opens_at: "mở điểm danh lúc {t}",
    guides: "Hướng dẫn in:",
    guide_door: "người trực cửa",
    guide_technician: "kỹ thuật viên",
    lang: "English",
    empty: "Không có điểm cầu nào",
    problems_title: "Điểm cầu cần chú ý",
    more_units: "và {n} đơn vị khác: bấm tên đơn vị trong bảng điểm cầu để vào",
    no_problems: "Không có cảnh báo",
  },
  en: {
    title: "Live attendance board",
    token_heading: "Open the live board",
    token_help:
      "Paste an organiser's token or a viewer token (diemcau token create --role viewer --conference …).",
    token_label: "Access token",
    token_submit: "Open the board",
    token_bad: "The token is not valid, expired or revoked.",
    token_revoked: "The token was revoked. A new one is needed.",
    not_found: "No such conference, or this token may not watch it.",
    forbidden: "This token may not watch the live board (organisers and viewers only).",
    forget: "Change token",
    state_connecting: "Connecting…",
    state_live: "Live",
    state_behind: "Behind: the server could not confirm its figures with the database",
    state_stale: "Behind: nothing new from the server",
    state_offline: "Offline, retrying",
    state_retry: "next try in {s} s",
    state_auth: "Token needed",
    as_of: "figures as of {t}",
    members: "Members",
    non_members: "Non-members",
    guests: "Guests",
    walk_ins: "Walk-ins",
    present: "Present",
    sites: "Sites",
    online: "kiosks online",
    target: "target {t}",
    under_target: "under target",
    units: "Units",
    whole: "Everything",
    arrivals: "Arrivals per minute (last 60 minutes)",
    arrivals_scope: "Arrivals per minute, whole board (last 60 minutes)",
    arrivals_none: "No arrivals yet",
    peak: "peak {n}/min",
    last_minute: "last minute {n}",
    readiness: "Sites' readiness",
    readiness_help: "Before check-in opens: sites registered, link-tested, ready.",
    registered: "Registered",
    tested: "Tested",
    ready: "Ready",
    total: "Total",
    search: "Find a site (no diacritics needed: ha noi)",
    filter: "Filter",
    f_all: "All",
    f_problems: "With warnings",
    f_red: "Red warnings",
    f_lost: "Link lost",
    f_silent: "Kiosk silent",
    f_under: "Under target",
    f_over: "Over capacity",
    f_not_ready: "Not ready",
    shown: "{n}/{m} sites",
    col_site: "Site",
    col_unit: "Unit",
    col_progress: "Checked in",
    col_members: "Mem.",
    col_non_members: "Non-m.",
    col_present: "Present",
    col_capacity: "Seats",
    col_link: "Link",
    col_last: "Last scan",
    col_status: "Readiness",
    link_connected: "Good",
    link_degraded: "Degraded",
    link_lost: "Lost",
    link_unknown: "Unknown",
    a_lost: "link lost",
    a_silent: "kiosk silent",
    a_no_kiosk: "no kiosk yet",
    a_degraded: "link degraded",
    a_under: "under target",
    a_over: "over capacity",
    alerts_red: "{n} red",
    alerts_amber: "{n} amber",
    big: "Big screen",
    big_exit: "Leave big screen",
    status_draft: "Check-in not open yet",
    status_open: "Check-in open",
    status_live: "In session",
    status_closed: "Ended",
    status_signed_off: "Signed off",
    opens_at: "check-in opens at {t}",
    guides: "Printable guides:",
    guide_door: "door staff",
    guide_technician: "technician",
    lang: "Tiếng Việt",
    empty: "No site here",
    problems_title: "Sites needing attention",
    more_units: "and {n} more units: click a unit's name in the site table to go in",
    no_problems: "No warnings",
  },
};

const KEY = "diemcau.dashboard.lang";
let current = "vi";

export function initLanguage(params) {
  const asked = params.get("lang");
  const stored = safeGet(KEY);
  current = asked === "en" || asked === "vi" ? asked : stored === "en" ? "en" : "vi";
  document.documentElement.lang = current;
  return current;
}

export function language() {
  return current;
}

export function setLanguage(lang) {
  current = lang === "en" ? "en" : "vi";
  safeSet(KEY, current);
  document.documentElement.lang = current;
}

export function t(key, values = {}) {
  const text = STRINGS[current][key] ?? STRINGS.vi[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

// Every element with data-t gets its word; data-t-placeholder its placeholder.
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll("[data-t-placeholder]")) {
    el.placeholder = t(el.dataset.tPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-t-label]")) {
    el.setAttribute("aria-label", t(el.dataset.tLabel));
  }
}

export function safeGet(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

export function safeSet(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    /* private mode: the page still works, it only forgets */
  }
}
