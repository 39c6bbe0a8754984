import { chromium } from "playwright-core";
const args = process.argv.slice(2);
const b = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-unsafe-webgpu", "--enable-features=Vulkan", ...args] });
const p = await b.newPage();
p.on("console", (m) => console.log("console:", m.text()));
import http from "node:http";
const srv = http.createServer((q, s) => { s.setHeader("content-type", "text/html"); s.end("<html></html>"); }).listen(0);
await new Promise((r) => srv.on("listening", r));
await p.goto(`http://localhost:${srv.address().port}/`);
const r = await p.evaluate(async () => {
  if (!navigator.gpu) return "no navigator.gpu";
  const a = await navigator.gpu.requestAdapter();
  if (!a) return "no adapter";
  const info = a.info ?? {};
  return JSON.stringify({ vendor: info.vendor, arch: info.architecture, desc: info.description, f16: a.features.has("shader-f16") });
});
console.log(r);
await b.close(); srv.close();
