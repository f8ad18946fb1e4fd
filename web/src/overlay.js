// The analysis overlay drawn over OpenSeadragon on one canvas.
//
// Zoomed out, the class-density heatmap (one small grid for the whole image); zoomed in,
// the cells of the overlay tiles in view only, fetched tile by tile and kept in a bounded
// cache, so a slide of 300k cells pans as smoothly as a field of 300. Each class has a
// colour and a shape; outlines replace the shapes once cells are big enough on screen.
import OpenSeadragon from "openseadragon";
import { apiGet } from "./api.js";

const MAX_TILES_IN_VIEW = 64; // more overlay tiles than this in view: the heatmap
const MIN_CELL_SCREEN_PX = 2; // cells smaller than this on screen: the heatmap
const OUTLINE_SCREEN_PX = 9; // cells at least this big (radius, CSS px): outlines
const LABEL_SCREEN_PX = 14; // ISH nuclei at least this big: HER2/CEP17 counts as text
const TILE_CACHE = 400;
const MAX_FETCHES = 6;
const NOT_COUNTED = "#8a8a8a";

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export function shapePath(ctx, shape, x, y, s) {
  switch (shape) {
    case "square": ctx.rect(x - s * 0.85, y - s * 0.85, s * 1.7, s * 1.7); break;
    case "triangle":
      ctx.moveTo(x, y - s); ctx.lineTo(x + s, y + s * 0.8); ctx.lineTo(x - s, y + s * 0.8);
      ctx.closePath(); break;
    case "diamond":
      ctx.moveTo(x, y - s); ctx.lineTo(x + s, y); ctx.lineTo(x, y + s); ctx.lineTo(x - s, y);
      ctx.closePath(); break;
    case "cross": {
      const a = s * 0.38;
      ctx.moveTo(x - a, y - s); ctx.lineTo(x + a, y - s); ctx.lineTo(x + a, y - a);
      ctx.lineTo(x + s, y - a); ctx.lineTo(x + s, y + a); ctx.lineTo(x + a, y + a);
      ctx.lineTo(x + a, y + s); ctx.lineTo(x - a, y + s); ctx.lineTo(x - a, y + a);
      ctx.lineTo(x - s, y + a); ctx.lineTo(x - s, y - a); ctx.lineTo(x - a, y - a);
      ctx.closePath(); break;
    }
    default: ctx.moveTo(x + s, y); ctx.arc(x, y, s, 0, Math.PI * 2);
  }
}

export class CellOverlay {
  constructor(viewer, imageId, info, onMode) {
    this.viewer = viewer;
    this.imageId = imageId;
    this.info = info;
    this.overlay = info.overlay;
    this.onMode = onMode || (() => {});
    this.enabled = new Set(this.overlay.classes.map((c, i) => i));
    this.showNotCounted = true;
    this.showSignals = true;
    this.showLabels = true;
    this.opacity = 0.8;
    this.tiles = new Map();
    this.wanted = new Set();
    this.pending = new Set();
    this.queue = [];
    this.density = null;
    this.heat = null;
    this.mode = "";
    this.medianRadius = 8;
    this.canvas = document.createElement("canvas");
    this.canvas.className = "overlay-canvas";
    this.canvas.setAttribute("aria-hidden", "true");
    viewer.canvas.append(this.canvas);
    this.ctx = this.canvas.getContext("2d");
    const redraw = () => this.draw();
    viewer.addHandler("update-viewport", redraw);
    viewer.addHandler("resize", redraw);
    viewer.addHandler("open", redraw);
    this.loadDensity();
  }

  async loadDensity() {
    try {
      this.density = await apiGet(`/viewer/${encodeURIComponent(this.imageId)}/density`);
      this.heat = null;
      this.draw();
    } catch (err) {
      this.onMode("error", err.message);
    }
  }

  set(options) {
    Object.assign(this, options);
    this.heat = null;
    this.draw();
  }

  toggleClass(index, on) {
    if (on) this.enabled.add(index);
    else this.enabled.delete(index);
    this.heat = null;
    this.draw();
  }

  transform() {
    const vp = this.viewer.viewport;
    const p0 = vp.imageToViewerElementCoordinates(new OpenSeadragon.Point(0, 0));
    const p1 = vp.imageToViewerElementCoordinates(new OpenSeadragon.Point(1000, 1000));
    return { ox: p0.x, oy: p0.y, s: (p1.x - p0.x) / 1000 };
  }

  imageToElement(x, y) {
    const t = this.transform();
    return { x: t.ox + x * t.s, y: t.oy + y * t.s };
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.viewer.container.clientWidth;
    const h = this.viewer.container.clientHeight;
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(h * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
      this.canvas.style.width = `${w}px`;
      this.canvas.style.height = `${h}px`;
    }
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { w, h };
  }

  visibleTiles(t, w, h) {
    const size = this.overlay.tile_px;
    const cols = Math.ceil(this.info.width / size);
    const rows = Math.ceil(this.info.height / size);
    const x0 = Math.max(0, Math.floor((0 - t.ox) / t.s / size));
    const y0 = Math.max(0, Math.floor((0 - t.oy) / t.s / size));
    const x1 = Math.min(cols - 1, Math.floor((w - t.ox) / t.s / size));
    const y1 = Math.min(rows - 1, Math.floor((h - t.oy) / t.s / size));
    const out = [];
    for (let r = y0; r <= y1; r++) for (let c = x0; c <= x1; c++) out.push(`${c}_${r}`);
    return out;
  }

  draw() {
    if (!this.viewer.world.getItemCount()) return;
    const { w, h } = this.resize();
    const ctx = this.ctx;
    ctx.clearRect(0, 0, w, h);
    const t = this.transform();
    const tiles = this.visibleTiles(t, w, h);
    const cellPx = this.medianRadius * t.s;
    const mode = tiles.length > MAX_TILES_IN_VIEW || cellPx < MIN_CELL_SCREEN_PX ? "heatmap"
      : cellPx >= OUTLINE_SCREEN_PX ? "outlines" : "cells";
    if (mode !== this.mode) {
      this.mode = mode;
      this.canvas.dataset.mode = mode;
      this.onMode(mode);
    }
    ctx.globalAlpha = this.opacity;
    this.wanted = new Set(mode === "heatmap" ? [] : tiles);
    if (mode === "heatmap") this.drawHeatmap(ctx, t);
    else {
      for (const key of tiles) {
        const doc = this.tiles.get(key);
        if (doc) this.drawTile(ctx, doc, t, mode);
        else this.request(key);
      }
    }
    ctx.globalAlpha = 1;
  }

  request(key) {
    if (this.pending.has(key)) return;
    this.pending.add(key);
    this.queue.push(key);
    this.pump();
  }

  pump() {
    while (this.queue.length && this.inflight() < MAX_FETCHES) {
      const key = this.queue.shift();
      if (!this.wanted.has(key)) { // panned past it before its turn came: not fetched
        this.pending.delete(key);
        continue;
      }
      this.fetching = (this.fetching || 0) + 1;
      apiGet(`/viewer/${encodeURIComponent(this.imageId)}/cells/${key}`)
        .then((doc) => {
          this.tiles.set(key, doc);
          if (doc.r.length) this.medianRadius = doc.r[Math.floor(doc.r.length / 2)];
          while (this.tiles.size > TILE_CACHE) this.tiles.delete(this.tiles.keys().next().value);
          this.scheduleDraw();
        })
        .catch((err) => this.onMode("error", err.message))
        .finally(() => {
          this.fetching -= 1;
          this.pending.delete(key);
          this.pump();
        });
    }
  }

  inflight() { return this.fetching || 0; }

  scheduleDraw() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  drawHeatmap(ctx, t) {
    if (!this.density) return;
    if (!this.heat) this.heat = this.heatImage();
    const d = this.density;
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(this.heat, t.ox, t.oy, d.cols * d.bin_px * t.s, d.rows * d.bin_px * t.s);
  }

  heatImage() {
    const d = this.density;
    const classes = this.overlay.classes;
    const colors = classes.map((c) => hexToRgb(c.color));
    const canvas = document.createElement("canvas");
    canvas.width = d.cols;
    canvas.height = d.rows;
    const img = canvas.getContext("2d").createImageData(d.cols, d.rows);
    const totals = new Float64Array(d.cols * d.rows);
    const active = classes.map((c, i) => i).filter((i) => this.enabled.has(i));
    for (const i of active) {
      const counts = d.counts[classes[i].key];
      for (let b = 0; b < totals.length; b++) totals[b] += counts[b];
    }
    const sorted = Array.from(totals).filter((v) => v > 0).sort((a, b) => a - b);
    const top = sorted.length ? sorted[Math.floor(sorted.length * 0.95)] : 1;
    for (let b = 0; b < totals.length; b++) {
      if (!totals[b]) continue;
      let r = 0; let g = 0; let bl = 0;
      for (const i of active) {
        const share = d.counts[classes[i].key][b] / totals[b];
        r += share * colors[i][0]; g += share * colors[i][1]; bl += share * colors[i][2];
      }
      img.data.set([r, g, bl, 60 + 170 * Math.min(1, totals[b] / top)], b * 4);
    }
    canvas.getContext("2d").putImageData(img, 0, 0);
    return canvas;
  }

  drawTile(ctx, doc, t, mode) {
    const classes = this.overlay.classes;
    const ish = this.overlay.assay === "ish";
    for (let k = 0; k < classes.length; k++) {
      if (!this.enabled.has(k)) continue;
      for (const counted of [1, 0]) {
        if (!counted && !this.showNotCounted) continue;
        const color = counted ? classes[k].color : NOT_COUNTED;
        ctx.beginPath();
        let any = false;
        for (let i = 0; i < doc.n; i++) {
          if (doc.c[i] !== k || doc.counted[i] !== counted) continue;
          any = true;
          const x = t.ox + doc.x[i] * t.s;
          const y = t.oy + doc.y[i] * t.s;
          if (mode === "outlines") this.cellOutline(ctx, doc, i, t, x, y);
          else shapePath(ctx, classes[k].shape, x, y, Math.max(3, Math.min(8, doc.r[i] * t.s)));
        }
        if (!any) continue;
        ctx.setLineDash(counted ? [] : [4, 3]);
        if (mode === "outlines" || ish) {
          ctx.strokeStyle = color;
          ctx.lineWidth = ish ? 2.5 : 2;
          ctx.stroke();
        }
        if (mode !== "outlines" && !ish) {
          ctx.fillStyle = color;
          ctx.fill();
          ctx.lineWidth = 0.8;
          ctx.strokeStyle = "rgba(20,20,20,0.7)";
          ctx.stroke();
        }
        if (mode === "outlines" && !ish) this.centreMarks(ctx, doc, k, counted, t, color);
        ctx.setLineDash([]);
      }
    }
    if (ish) this.drawIsh(ctx, doc, t);
  }

  cellOutline(ctx, doc, i, t, x, y) {
    const ring = doc.outline && doc.outline[i];
    if (ring && ring.length >= 6) {
      ctx.moveTo(t.ox + ring[0] * t.s, t.oy + ring[1] * t.s);
      for (let j = 2; j < ring.length; j += 2) ctx.lineTo(t.ox + ring[j] * t.s, t.oy + ring[j + 1] * t.s);
      ctx.closePath();
    } else {
      const r = doc.r[i] * t.s;
      ctx.moveTo(x + r, y);
      ctx.arc(x, y, r, 0, Math.PI * 2);
    }
  }

  // The class shape at each outlined cell's centre: the outline colour is never the only cue.
  centreMarks(ctx, doc, k, counted, t, color) {
    ctx.beginPath();
    for (let i = 0; i < doc.n; i++) {
      if (doc.c[i] !== k || doc.counted[i] !== counted) continue;
      shapePath(ctx, this.overlay.classes[k].shape, t.ox + doc.x[i] * t.s, t.oy + doc.y[i] * t.s, 3.5);
    }
    ctx.fillStyle = color;
    ctx.fill();
    ctx.lineWidth = 0.8;
    ctx.strokeStyle = "rgba(20,20,20,0.8)";
    ctx.stroke();
  }

  drawIsh(ctx, doc, t) {
    const sig = doc.signals;
    if (sig && this.showSignals) {
      const colors = this.overlay.signal_colors;
      for (const [probe, shape, color] of [[0, "circle", colors.her2], [1, "triangle", colors.cep17]]) {
        ctx.beginPath();
        for (let i = 0; i < sig.x.length; i++) {
          if (sig.probe[i] !== probe) continue;
          shapePath(ctx, shape, t.ox + sig.x[i] * t.s, t.oy + sig.y[i] * t.s, Math.max(2.5, 0.6 * t.s));
        }
        ctx.fillStyle = color;
        ctx.fill();
        ctx.lineWidth = 0.8;
        ctx.strokeStyle = "#ffffff";
        ctx.stroke();
      }
    }
    if (!this.showLabels) return;
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.textBaseline = "bottom";
    for (let i = 0; i < doc.n; i++) {
      const r = doc.r[i] * t.s;
      if (r < LABEL_SCREEN_PX || !this.enabled.has(doc.c[i])) continue;
      const text = `${doc.her2[i]} / ${doc.cep17[i]}`;
      const x = t.ox + doc.x[i] * t.s + r * 0.7;
      const y = t.oy + doc.y[i] * t.s - r * 0.7;
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(255,255,255,0.9)";
      ctx.strokeText(text, x, y);
      ctx.fillStyle = "#1b1f24";
      ctx.fillText(text, x, y);
    }
  }
}
