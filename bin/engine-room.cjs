#!/usr/bin/env node
// Entry point for `npx engine-room`: the CLI is bundled into dist/cli.js by `npm run build`.
require('../dist/cli.js');
