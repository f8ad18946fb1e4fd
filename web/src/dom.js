// A tiny element builder: text is always set as text (never parsed as HTML), so every
// string from the service — accession numbers, reasons, names — is shown verbatim.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function fmtPct(v, digits = 1) {
  return v === null || v === undefined ? "—" : `${Number(v).toFixed(digits)} %`;
}

export function fmtNum(v, digits = 2) {
  return v === null || v === undefined ? "—" : Number(v).toFixed(digits);
}

export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(0)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

// A small SVG symbol per class shape, so a legend entry is told apart without colour.
export function shapeIcon(shape, color, size = 16) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", size);
  svg.setAttribute("height", size);
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("aria-hidden", "true");
  const paths = {
    circle: "M8 2a6 6 0 1 0 0.01 0Z",
    square: "M2.5 2.5h11v11h-11Z",
    triangle: "M8 1.5 14.5 14h-13Z",
    diamond: "M8 1 15 8 8 15 1 8Z",
    cross: "M5.5 1h5v4.5H15v5h-4.5V15h-5v-4.5H1v-5h4.5Z",
  };
  const p = document.createElementNS(ns, "path");
  p.setAttribute("d", paths[shape] || paths.circle);
  p.setAttribute("fill", color);
  p.setAttribute("stroke", "#1b1f24");
  p.setAttribute("stroke-width", "1");
  svg.append(p);
  return svg;
}
