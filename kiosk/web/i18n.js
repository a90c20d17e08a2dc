// Words shown to people, Vietnamese first; numbers always in Vietnamese style (11.873)
// and times in the conference's time zone (Asia/Ho_Chi_Minh unless it says otherwise).

const STRINGS = {
  vi: {
    title: "Điểm danh",
    // One word for the technician's code everywhere: "mã ghép máy" (the service's messages
    // and the docs say it too); "đăng ký" is the delegates' registration at a site.
    enroll_heading: "Ghép máy điểm danh",
    enroll_help: "Nhập mã ghép máy 8 ký tự do kỹ thuật viên cấp, hoặc quét mã QR ghép máy.",
    enroll_code: "Mã ghép máy",
    device_name: "Tên máy (ngắn, để phân biệt các máy của điểm cầu)",
    enroll_submit: "Ghép máy",
    enroll_scan: "Quét mã QR ghép máy",
    enroll_bad_code: "Mã ghép máy gồm 8 ký tự (chữ và số), ví dụ 7KQ4-MZ2P.",
    enroll_offline: "Cần kết nối mạng để ghép máy.",
    enroll_expires: "Mã dùng được đến {time}",
    enrolling: "Đang ghép máy…",
    online: "Trực tuyến",
    offline: "Mất kết nối",
    retrying: "Đang thử lại",
    queue: "Chờ gửi",
    last_sync: "Đồng bộ lần cuối",
    never: "chưa có",
    checked_in: "Đã điểm danh",
    walk_ins: "Vãng lai",
    present: "Đang có mặt",
    mode_in: "VÀO",
    mode_out: "RA",
    exit_mode: "Chế độ ra: quét thẻ người rời hội trường",
    ready: "Sẵn sàng quét",
    ready_help: "Đưa mã QR vào camera, hoặc quét bằng máy quét",
    camera_start: "Bật camera",
    camera_stop: "Tắt camera",
    camera_failed: "Không mở được camera",
    manual: "Tìm theo tên",
    walk_in: "Khách vãng lai",
    leave: "Rời máy này",
    leave_confirm: "Máy sẽ bỏ ghép, quên danh sách và các lượt quét. Tiếp tục?",
    leave_queue: "Còn {n} lượt quét chưa gửi được, sẽ mất nếu rời máy. Vẫn rời?",
    search_placeholder: "Gõ tên, không cần dấu: nguyen van an",
    search_none: "Không tìm thấy",
    search_short: "Gõ ít nhất 2 ký tự",
    confirm_checkin: "Điểm danh",
    cancel: "Hủy",
    close: "Đóng",
    full_name: "Họ và tên",
    category: "Thành phần",
    record_walk_in: "Ghi nhận",
    already_in: "đã điểm danh",
    recent: "Lượt quét gần đây",
    not_synced: "chưa đồng bộ",
    synced: "đã đồng bộ",
    refused: "bị từ chối",
    differs: "Máy chủ trả lời khác",
    was_offline: "Trả lời ngoại tuyến",
    judged_offline: "Trả lời ngoại tuyến · chưa đồng bộ",
    checking: "Đang kiểm tra…",
    service_said: "Máy chủ trả lời",
    differences: "{n} lượt trả lời khác sau khi đồng bộ — xem",
    changes_title: "Trả lời thay đổi sau khi đồng bộ",
    changes_help: "Máy đã trả lời ngoại tuyến; máy chủ sau đó trả lời khác:",
    dismiss: "Đã xem, ẩn thông báo",
    revoked_kiosk: "Máy này đã bị thu hồi. Hãy ghép máy lại bằng mã mới.",
    roster_online_only: "Danh sách quá lớn để lưu trên máy: chỉ điểm danh khi có mạng",
    waiting_service: "Đang chờ máy chủ…",
    at: "lúc {time} tại {site}",
    their_site: "Điểm cầu của đại biểu: {site}",
    walk_in_label: "Khách vãng lai",
    // result titles
    accepted: "Mời vào",
    accepted_out: "Đã ghi ra",
    moved: "Điểm cầu khác",
    reentry: "Vào lại",
    out_not_in: "Ra: chưa điểm danh vào",
    already_out: "Đã ra rồi",
    duplicate: "Đã điểm danh rồi",
    wrong_site: "Sai điểm cầu",
    revoked: "Mã đã bị thu hồi",
    invalid: "Mã không hợp lệ",
    not_open: "Chưa mở điểm danh",
    closed: "Đã đóng điểm danh",
    unknown_delegate: "Không có trong danh sách của máy",
    walk_in_recorded: "Đã ghi khách vãng lai",
    // categories
    member: "Đảng viên",
    non_member: "Quần chúng",
    guest: "Khách mời",
    // credential refusals (service/credentials.py REASONS)
    lowercase: "Mã phải viết hoa",
    malformed: "Mã không đúng định dạng",
    unsupported_format: "Mã thuộc phiên bản không hỗ trợ",
    unknown_key: "Mã ký bằng khóa không còn hiệu lực",
    wrong_conference: "Mã của hội nghị khác",
    bad_signature: "Chữ ký của mã không đúng",
  },
  en: {
    title: "Check-in",
    enroll_heading: "Enroll this kiosk",
    enroll_help: "Type the 8-character code from the technician, or scan the enrollment QR.",
    enroll_code: "Enrollment code",
    device_name: "Device name (short, to tell the site's kiosks apart)",
    enroll_submit: "Enroll",
    enroll_scan: "Scan the enrollment QR",
    enroll_bad_code: "The enrollment code has 8 letters and digits, e.g. 7KQ4-MZ2P.",
    enroll_offline: "Enrollment needs a network link.",
    enroll_expires: "The code works until {time}",
    enrolling: "Enrolling…",
    online: "Online",
    offline: "Offline",
    retrying: "Retrying",
    queue: "To send",
    last_sync: "Last sync",
    never: "never",
    checked_in: "Checked in",
    walk_ins: "Walk-ins",
    present: "Present now",
    mode_in: "IN",
    mode_out: "OUT",
    exit_mode: "Exit mode: scan the badges of people leaving the hall",
    ready: "Ready to scan",
    ready_help: "Hold the QR code to the camera, or use the scanner",
    camera_start: "Start camera",
    camera_stop: "Stop camera",
    camera_failed: "The camera could not be opened",
    manual: "Find by name",
    walk_in: "Walk-in",
    leave: "Leave this kiosk",
    leave_confirm: "This device will forget its enrollment and roster. Go on?",
    leave_queue: "{n} scans are not sent yet and will be lost. Leave anyway?",
    search_placeholder: "Type a name, no accents needed: nguyen van an",
    search_none: "Nobody found",
    search_short: "Type at least 2 characters",
    confirm_checkin: "Check in",
    cancel: "Cancel",
    close: "Close",
    full_name: "Full name",
    category: "Category",
    record_walk_in: "Record",
    already_in: "checked in",
    recent: "Recent scans",
    not_synced: "not yet synced",
    synced: "synced",
    refused: "refused",
    differs: "The service answered differently",
    was_offline: "Judged offline",
    judged_offline: "Judged offline · not yet synced",
    checking: "Checking…",
    service_said: "The service said",
    differences: "{n} answers changed after sync — see",
    changes_title: "Answers changed after sync",
    changes_help: "This kiosk answered offline; the service then answered otherwise:",
    dismiss: "Seen, dismiss",
    revoked_kiosk: "This kiosk was revoked. Enroll it again with a new code.",
    roster_online_only: "The roster is too large to keep here: check-in works online only",
    waiting_service: "Waiting for the service…",
    at: "at {time} at {site}",
    their_site: "Their own site: {site}",
    walk_in_label: "Walk-in",
    accepted: "Welcome",
    accepted_out: "Exit recorded",
    moved: "Another site",
    reentry: "Re-entry",
    out_not_in: "Exit: never checked in",
    already_out: "Already left",
    duplicate: "Already checked in",
    wrong_site: "Wrong site",
    revoked: "Code revoked",
    invalid: "Invalid code",
    not_open: "Check-in not open yet",
    closed: "Check-in closed",
    unknown_delegate: "Not on this kiosk's roster",
    walk_in_recorded: "Walk-in recorded",
    member: "Member",
    non_member: "Non-member",
    guest: "Guest",
    lowercase: "the code must be upper case",
    malformed: "not a diemcau code",
    unsupported_format: "unsupported code format",
    unknown_key: "signed with an unknown key",
    wrong_conference: "a code of another conference",
    bad_signature: "the signature does not match",
  },
};

export const LANGS = Object.keys(STRINGS);
let lang = "vi";
let zone = "Asia/Ho_Chi_Minh";

export function setLanguage(value) {
  lang = LANGS.includes(value) ? value : "vi";
  document.documentElement.lang = lang;
}

export function language() {
  return lang;
}

export function setTimeZone(value) {
  try {
    new Intl.DateTimeFormat("vi-VN", { timeZone: value });
    zone = value;
  } catch {
    zone = "Asia/Ho_Chi_Minh";
  }
}

export function t(key, values = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.vi[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

// A message from the service ({vi, en}) in the page's language.
export function pick(message) {
  return message ? (message[lang] ?? message.vi ?? "") : "";
}

const numbers = new Intl.NumberFormat("vi-VN");

export function number(n) {
  return numbers.format(n);
}

export function time(iso) {
  if (!iso) return t("never");
  return new Intl.DateTimeFormat("vi-VN", {
    timeZone: zone,
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).format(new Date(iso));
}

// A day and time for people, in the conference's zone: "09:15 16/12".
export function dayTime(iso) {
  const parts = new Intl.DateTimeFormat("vi-VN", {
    timeZone: zone,
    hour: "2-digit",
    minute: "2-digit",
    day: "2-digit",
    month: "2-digit",
    hourCycle: "h23",
  }).formatToParts(new Date(iso));
  const get = (type) => parts.find((p) => p.type === type)?.value ?? "";
  return `${get("hour")}:${get("minute")} ${get("day")}/${get("month")}`;
}

// Every element with data-i18n gets its text, data-i18n-placeholder its placeholder.
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  document.title = `diemcau · ${t("title")}`;
}
