// Numbers, rates and times as people read them: Vietnamese style by default
// (11.873 · 97,87%), English on request (11,873 · 97.87%); times in the conference's
// time zone. Search keys folded without case or diacritics ("ha noi" finds "Hà Nội").

const MARKS = {
  vi: { group: ".", decimal: "," },
  en: { group: ",", decimal: "." },
};

export function int(n, lang = "vi") {
  if (n === null || n === undefined) return "—";
  const digits = String(Math.trunc(Math.abs(n)));
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, MARKS[lang].group);
  return n < 0 ? "-" + grouped : grouped;
}

// A fraction as a percentage with two decimals: 0.8316 -> "83,16%"; null -> "—".
export function percent(rate, lang = "vi", decimals = 2) {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return "—";
  const text = (rate * 100).toFixed(decimals);
  return text.replace(".", MARKS[lang].decimal) + "%";
}

// A target as people write it: 0.98 -> "98%", 0.925 -> "92,5%".
export function target(rate, lang = "vi") {
  if (rate === null || rate === undefined) return "—";
  const text = String(Math.round(rate * 10000) / 100);
  return text.replace(".", MARKS[lang].decimal) + "%";
}

export function rate(done, expected) {
  return expected > 0 ? done / expected : null;
}

// "9.874/11.873 · 83,16%"
export function progress(done, expected, lang = "vi") {
  return `${int(done, lang)}/${int(expected, lang)} · ${percent(rate(done, expected), lang)}`;
}

export function fold(text) {
  return String(text || "")
    .toLowerCase()
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[đð]/g, "d")
    .replace(/\s+/g, " ")
    .trim();
}

const clocks = new Map();

// "08:41:03" in the conference's zone (Asia/Ho_Chi_Minh unless it says otherwise).
export function clock(when, zone, seconds = true) {
  if (!when) return "—";
  const key = `${zone}|${seconds}`;
  let format = clocks.get(key);
  if (!format) {
    const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (seconds) options.second = "2-digit";
    try {
      format = new Intl.DateTimeFormat("en-GB", { ...options, timeZone: zone });
    } catch {
      format = new Intl.DateTimeFormat("en-GB", { ...options, timeZone: "Asia/Ho_Chi_Minh" });
    }
    clocks.set(key, format);
  }
  return format.format(when instanceof Date ? when : new Date(when));
}
