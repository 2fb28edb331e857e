// "Tools > Build npm" of WeChat devtools, without devtools: miniprogram-ci
// (Tencent's CI package, the same builder) copies the `miniprogram`
// directory of each dependency into miniprogram_npm/. Used by the tests and
// by anyone building the demo on a server.
'use strict';

const path = require('node:path');
const ci = require('miniprogram-ci');

const root = path.resolve(__dirname, '..');

ci.packNpmManually({ packageJsonPath: path.join(root, 'package.json'), miniprogramNpmDistDir: root })
  .then((result) => {
    for (const w of result.warnList) console.warn('build npm warning:', w.jsPath || '', w.msg || JSON.stringify(w));
    if (result.miniProgramPackNum < 1) {
      console.error('build npm: @minirtc/wechat was not packed as a mini-program package');
      process.exit(1);
    }
    console.log('build npm: ' + result.miniProgramPackNum + ' mini-program package(s) in miniprogram_npm/');
  })
  .catch((err) => {
    console.error('build npm failed:', err);
    process.exit(1);
  });
