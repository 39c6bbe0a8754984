// The results on the page: one figure per image (canvas + caption with its class), drawn from previews
// during a run and from the samples at the end; a click enlarges an image in a dialog that saves it as a
// PNG; "Download all" saves the grid.
import { gridRgba, previewImages, toRgba } from "./images";

export interface ResultsView {
  /** Starts a run of images with these captions: blank cells. */
  start(captions: readonly string[]): void;
  /** Draws a preview state [rows, C, H, W] into images first .. first + rows - 1. */
  preview(first: number, data: Float32Array, shape: readonly number[]): void;
  /** Draws the final images [n, 3, H, W]; `name` names saved files (e.g. "flowturbo-seed7"). */
  finish(images: Float32Array, shape: readonly number[], name: string): void;
  /** The grid of the last finished run as a PNG blob. */
  gridPng(): Promise<Blob | undefined>;
}

function put(canvas: HTMLCanvasElement, rgba: Uint8ClampedArray<ArrayBuffer>, w: number, h: number): void {
  canvas.width = w;
  canvas.height = h;
  canvas.getContext("2d")!.putImageData(new ImageData(rgba, w, h), 0, 0);
}

const toBlob = (canvas: HTMLCanvasElement) =>
  new Promise<Blob | undefined>((resolve) => canvas.toBlob((b) => resolve(b ?? undefined), "image/png"));

/** Saves a blob under a file name (a download). */
export function saveBlob(blob: Blob | undefined, file: string): void {
  if (!blob) return;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = file;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

export function resultsView(ui: {
  results: HTMLElement;
  viewer: HTMLDialogElement;
  viewerCanvas: HTMLCanvasElement;
  viewerCaption: HTMLElement;
  viewerSave: HTMLButtonElement;
  viewerClose: HTMLButtonElement;
}): ResultsView {
  let cells: { canvas: HTMLCanvasElement; caption: string; figure: HTMLElement }[] = [];
  let finished: { rgba: Uint8ClampedArray<ArrayBuffer>[]; h: number; w: number; name: string } | undefined;
  let shown = 0;

  const open = (i: number) => {
    const cell = cells[i];
    ui.viewerCanvas.width = cell.canvas.width;
    ui.viewerCanvas.height = cell.canvas.height;
    ui.viewerCanvas.getContext("2d")!.drawImage(cell.canvas, 0, 0);
    ui.viewerCaption.textContent = `${i + 1}. ${cell.caption}`;
    ui.viewerSave.disabled = !finished;
    shown = i;
    ui.viewer.showModal();
  };
  ui.viewerClose.addEventListener("click", () => ui.viewer.close());
  ui.viewer.addEventListener("click", (e) => {
    if (e.target === ui.viewer) ui.viewer.close(); // a click on the backdrop
  });
  ui.viewerSave.addEventListener("click", async () => {
    if (!finished) return;
    const slug = cells[shown].caption.replace(/[^\w-]+/g, "-").replace(/^-|-$/g, "");
    saveBlob(await toBlob(ui.viewerCanvas), `${finished.name}-${shown + 1}-${slug}.png`);
  });

  return {
    start(captions) {
      finished = undefined;
      cells = captions.map((caption, i) => {
        const item = document.createElement("li");
        const figure = document.createElement("figure");
        item.append(figure);
        const button = document.createElement("button");
        button.type = "button";
        button.className = "cell";
        button.setAttribute("aria-label", `Enlarge image ${i + 1}: ${caption}`);
        const canvas = document.createElement("canvas");
        canvas.width = canvas.height = 1;
        button.append(canvas);
        button.addEventListener("click", () => open(i));
        const text = document.createElement("figcaption");
        text.textContent = caption;
        figure.append(button, text);
        return { canvas, caption, figure: item };
      });
      ui.results.replaceChildren(...cells.map((c) => c.figure));
    },
    preview(first, data, shape) {
      const [n, , h, w] = shape;
      const rgba = toRgba(previewImages(data, shape), [n, 3, h, w]);
      rgba.forEach((px, r) => {
        const cell = cells[first + r];
        if (cell) put(cell.canvas, px, w, h);
      });
    },
    finish(images, shape, name) {
      const [, , h, w] = shape;
      const rgba = toRgba(images, shape);
      rgba.forEach((px, i) => {
        if (cells[i]) put(cells[i].canvas, px, w, h);
      });
      finished = { rgba, h, w, name };
    },
    async gridPng() {
      if (!finished) return undefined;
      const grid = gridRgba(finished.rgba, finished.h, finished.w);
      const canvas = document.createElement("canvas");
      put(canvas, grid.data, grid.width, grid.height);
      return toBlob(canvas);
    },
  };
}
