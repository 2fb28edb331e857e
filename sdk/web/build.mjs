// Builds the two bundles with esbuild and the type declarations with tsc:
//   dist/minirtc.esm.js  ES module (bundlers, <script type="module">)
//   dist/minirtc.js      IIFE defining the global MiniRTC (<script src>)
//   dist/index.d.ts      declarations (plus one .d.ts per source file)
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pkg = require('./package.json');

rmSync('dist', { recursive: true, force: true });

const common = {
  entryPoints: ['src/index.ts'],
  bundle: true,
  sourcemap: true,
  // Browsers with RTCRtpTransceiver.setCodecPreferences and ES2020: Chrome/Edge 90+,
  // Safari 15+, Firefox 90+ (see README "Browser support").
  target: ['es2020'],
  define: { __MINIRTC_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
};

await build({ ...common, format: 'esm', outfile: 'dist/minirtc.esm.js' });
await build({ ...common, format: 'iife', globalName: 'MiniRTC', outfile: 'dist/minirtc.js' });

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--emitDeclarationOnly'], { stdio: 'inherit' });
console.log('built dist/minirtc.esm.js, dist/minirtc.js, dist/index.d.ts');
