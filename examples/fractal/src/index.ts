export { sha256Hex } from './checksum.js';
export { ContactSheetOptions, MAX_SHEET_PIXELS, contactSheet } from './contact-sheet.js';
export { JuliaParams, escapeIndex, juliaPixels, renderJulia } from './julia.js';
export type { RenderedImage } from './julia.js';
export { randomJuliaParams, randomTaskCount } from './producer-params.js';
export type { RandomSource } from './producer-params.js';
export { mulberry32 } from './seeded-random.js';
export {
  JuliaResult,
  contactSheetTask,
  demoTasks,
  frameTask,
  helloTask,
  juliaTask,
} from './tasks.js';
export { startProducer } from './producer.js';
export type { ProducerOptions } from './producer.js';
