import { config } from 'zod';

// zod compiles object parsers with `new Function` when it may; the page's Content-Security-Policy
// forbids eval, so parse without it (and without zod probing for it). Imported before any schema
// is built: zod reads this setting as each schema is created.
config({ jitless: true });
