// The slide / field viewer: Deep Zoom tiles from the service with the cell overlay on top,
// a toggle per class (shape + words + count, not colour alone), opacity, the ISH layers,
// and keyboard use (arrows pan, + and - zoom, 0 home, 1-5 toggle classes, o overlay).
import OpenSeadragon from "openseadragon";
import { apiGet, API } from "../api.js";
import { h, clear, shapeIcon } from "../dom.js";
import { CellOverlay } from "../overlay.js";

const MODE_WORDS = {
  heatmap: "Class-density heatmap (zoom in to see cells)",
  cells: "Cells by class (zoom in for outlines)",
  outlines: "Cell outlines by class",
};

function scaleBar(el, viewer, info) {
  const update = () => {
    if (!info.pixel_size_um || !viewer.world.getItemCount()) { el.hidden = true; return; }
    const zoom = viewer.viewport.viewportToImageZoom(viewer.viewport.getZoom(true));
    const umPerScreenPx = info.pixel_size_um / zoom;
    const target = umPerScreenPx * 120;
    const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
    const um = steps.find((s) => s >= target / 2) || steps[steps.length - 1];
    el.hidden = false;
    el.firstChild.style.width = `${um / umPerScreenPx}px`;
    el.lastChild.textContent = um >= 1000 ? `${um / 1000} mm` : `${um} µm`;
  };
  viewer.addHandler("update-viewport", update);
  return update;
}

function classControls(state, info) {
  const ov = info.overlay;
  const total = ov.classes.reduce((a, c) => a + c.cells, 0) || 1;
  const list = h("ul", { class: "legend", "aria-label": "Overlay layers" });
  ov.classes.forEach((c, i) => {
    const id = `layer-${c.key}`;
    const box = h("input", { type: "checkbox", id, checked: true, dataset: { layer: c.key },
      onchange: (e) => state.overlay.toggleClass(i, e.target.checked) });
    list.append(h("li", {},
      box,
      h("label", { for: id }, shapeIcon(c.shape, c.color),
        h("span", { class: "legend-words" }, i < 9 ? `${i + 1} · ${c.label}` : c.label),
        h("span", { class: "legend-count" },
          `${c.cells.toLocaleString()} (${((100 * c.cells) / total).toFixed(1)} %)`))));
  });
  const extras = [];
  if (ov.assay === "ihc") {
    extras.push(["notcounted", "Cells outside the count (grey, dashed)", "showNotCounted"]);
  } else {
    extras.push(["signals", "ISH signals (HER2 ●, CEP17 ▲)", "showSignals"]);
    extras.push(["labels", "HER2 / CEP17 counts per nucleus", "showLabels"]);
  }
  for (const [key, words, prop] of extras) {
    const id = `layer-${key}`;
    list.append(h("li", {}, h("input", { type: "checkbox", id, checked: true,
      dataset: { layer: key }, onchange: (e) => state.overlay.set({ [prop]: e.target.checked }) }),
    h("label", { for: id }, h("span", { class: "legend-words" }, words))));
  }
  if (ov.assay === "ish") {
    list.append(h("li", { class: "legend-note" },
      shapeIcon("circle", ov.signal_colors.her2, 12), " HER2 signal   ",
      shapeIcon("triangle", ov.signal_colors.cep17, 12), " CEP17 signal"));
  }
  return list;
}

function backLink(caseId) {
  return caseId ? h("a", { class: "back", href: `#/cases/${encodeURIComponent(caseId)}` }, "← Back to the case") : null;
}

function sidebar(state, info, caseId) {
  const opacity = h("input", { type: "range", id: "opacity", min: 0, max: 100, value: 80,
    "aria-valuetext": "80 %",
    oninput: (e) => {
      state.overlay.set({ opacity: e.target.value / 100 });
      e.target.setAttribute("aria-valuetext", `${e.target.value} %`);
    } });
  const show = h("input", { type: "checkbox", id: "overlay-on", checked: true,
    onchange: (e) => { state.overlay.canvas.hidden = !e.target.checked; } });
  const zoomBtn = (label, text, fn) => h("button", { type: "button", class: "btn small",
    "aria-label": label, onclick: () => fn(state.viewer.viewport) }, text);
  return h("aside", { class: "viewer-side", "aria-label": "Viewer controls" },
    backLink(caseId),
    h("h1", { class: "viewer-title" }, info.name || "Image"),
    h("p", { class: "muted small" }, `${info.width.toLocaleString()} × ${info.height.toLocaleString()} px`,
      info.pixel_size_um ? ` · ${info.pixel_size_um} µm/px` : " · pixel size unknown"),
    h("div", { class: "zoom-row" },
      zoomBtn("Zoom in", "+", (vp) => vp.zoomBy(1.6)),
      zoomBtn("Zoom out", "−", (vp) => vp.zoomBy(1 / 1.6)),
      zoomBtn("Whole image", "Fit", (vp) => vp.goHome()),
      zoomBtn("Full resolution", "1:1", (vp) => vp.zoomTo(vp.imageToViewportZoom(1)))),
    info.overlay ? [
      h("h2", {}, "Overlay"),
      h("div", { class: "row" }, show, h("label", { for: "overlay-on" }, "Show the analysis overlay (o)")),
      h("p", { class: "mode", id: "overlay-mode", role: "status" }, ""),
      classControls(state, info),
      h("label", { for: "opacity", class: "block" }, "Overlay opacity"), opacity,
      h("p", { class: "muted small keys" },
        "Keys in the image: arrows pan, + and − zoom, 0 whole image, 1–5 toggle classes, o overlay."),
    ] : h("p", { class: "notice" }, "Not analysed yet: there is no overlay to show."));
}

function toggleBox(box) {
  box.checked = !box.checked;
  box.dispatchEvent(new Event("change"));
}

export async function viewerPage(main, imageId, query) {
  const info = await apiGet(`/viewer/${encodeURIComponent(imageId)}`);
  const state = { viewer: null, overlay: null };
  clear(main);
  main.classList.add("wide");
  const stage = h("div", { id: "viewer", class: "viewer-stage" });
  const bar = h("div", { class: "scalebar", hidden: true, "aria-hidden": "true" },
    h("div", { class: "scalebar-line" }), h("span"));
  main.append(h("div", { class: "viewer-page" }, sidebar(state, info, query.get("case")),
    h("div", { class: "viewer-wrap" }, stage, bar)));
  // Created once the page is in the document: OpenSeadragon measures its element.
  const base = `${API}/viewer/${encodeURIComponent(imageId)}/tiles`;
  const viewer = OpenSeadragon({
    element: stage,
    drawer: "canvas",
    showNavigationControl: false,
    showNavigator: true,
    navigatorPosition: "TOP_RIGHT",
    animationTime: 0.4,
    maxZoomPixelRatio: 4,
    visibilityRatio: 0.5,
    gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true },
    tileSources: {
      width: info.width, height: info.height, tileSize: info.tile_size,
      tileOverlap: info.overlap, minLevel: 0, maxLevel: info.levels - 1,
      getTileUrl: (level, x, y) => `${base}/${level}/${x}_${y}.jpeg`,
    },
  });
  state.viewer = viewer;
  if (info.overlay) {
    state.overlay = new CellOverlay(viewer, imageId, info, (mode, message) => {
      const el = document.getElementById("overlay-mode");
      if (el) el.textContent = mode === "error" ? `Overlay not available: ${message}` : MODE_WORDS[mode];
    });
  }
  scaleBar(bar, viewer, info);
  // OpenSeadragon's canvas takes the focus (Tab) and its keys (arrows, + and -, 0);
  // the layer keys are added to it.
  viewer.canvas.setAttribute("aria-label", `Zoomable image ${info.name || ""}. Arrows pan, `
    + "plus and minus zoom, 0 shows the whole image, 1 to 5 toggle the classes, o the overlay.");
  viewer.canvas.setAttribute("role", "application");
  viewer.canvas.addEventListener("keydown", (e) => {
    if (!state.overlay || e.ctrlKey || e.metaKey || e.altKey) return;
    const n = Number(e.key);
    const boxes = document.querySelectorAll(".legend input[type=checkbox]");
    if (n >= 1 && n <= info.overlay.classes.length) toggleBox(boxes[n - 1]);
    else if (e.key === "o") toggleBox(document.getElementById("overlay-on"));
  });
  // For the browser tests and for scripts: where an image pixel is on screen.
  stage.her2kit = {
    imageToElement: (x, y) => (state.overlay ? state.overlay.imageToElement(x, y) : null),
    mode: () => (state.overlay ? state.overlay.mode : "none"),
    ready: () => viewer.world.getItemCount() > 0 && viewer.world.getItemAt(0).getFullyLoaded(),
    viewer,
    Point: OpenSeadragon.Point,
  };
  return () => viewer.destroy();
}
