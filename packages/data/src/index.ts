// @flowturbo/data: datasets, image preprocessing (Pillow-exact ADM center crop), deterministic sampling,
// the emoji demo dataset, latent-cache conventions and sample writers. Browser-safe; Node file access,
// sharp decoding, the latent cache and file writers are in "@flowturbo/data/node".

export * from "./classmap";
export * from "./dataset";
export * from "./decode-browser";
export * from "./emoji";
export * from "./emojiGroups";
export * from "./image";
export * from "./latents";
export * from "./png";
export * from "./resample";
export * from "./samples";
export * from "./sampling";
