// Arrivals per minute as SVG bars (no library): the last 60 minutes against the
// service's clock, from the totals' `arrivals` ({from, per_minute}).

import { clock, int } from "./format.js";
import { language, t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const MINUTES = 60;
const W = 600;
const H = 160;

export function lastHour(arrivals, nowMs) {
  const out = new Array(MINUTES).fill(0);
  if (!arrivals || !arrivals.from) return { counts: out, start: nowMs - (MINUTES - 1) * 60_000 };
  const from = Date.parse(arrivals.from);
  const list = arrivals.per_minute;
  // The minute "now" falls in, or the last with arrivals if the clocks disagree.
  const nowIndex = Math.max(Math.floor((nowMs - from) / 60_000), list.length - 1);
  for (let i = 0; i < MINUTES; i++) {
    const index = nowIndex - (MINUTES - 1) + i;
    if (index >= 0 && index < list.length) out[i] = list[index];
  }
  return { counts: out, start: from + (nowIndex - (MINUTES - 1)) * 60_000 };
}

export function drawArrivals(box, arrivals, nowMs, zone) {
  const lang = language();
  const { counts, start } = lastHour(arrivals, nowMs);
  const peak = Math.max(0, ...counts);
  let svg = box.querySelector("svg");
  if (!svg) {
    svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    for (let i = 0; i < MINUTES; i++) {
      const bar = document.createElementNS(SVG, "rect");
      bar.setAttribute("x", String((i * W) / MINUTES + 1));
      bar.setAttribute("width", String(W / MINUTES - 2));
      svg.appendChild(bar);
    }
    box.querySelector(".plot").appendChild(svg);
  }
  const bars = svg.querySelectorAll("rect");
  counts.forEach((n, i) => {
    const h = peak ? (n / peak) * (H - 4) : 0;
    bars[i].setAttribute("y", String(H - h));
    bars[i].setAttribute("height", String(h));
  });
  svg.setAttribute("aria-label", counts.join(" "));
  box.dataset.peak = String(peak);
  box.dataset.last = String(counts[MINUTES - 1]);
  box.querySelector(".from").textContent = clock(start, zone, false);
  box.querySelector(".to").textContent = clock(start + (MINUTES - 1) * 60_000, zone, false);
  box.querySelector(".summary").textContent = arrivals && arrivals.from
    ? `${t("peak", { n: int(peak, lang) })} · ${t("last_minute", { n: int(counts[MINUTES - 1], lang) })}`
    : t("arrivals_none");
}
