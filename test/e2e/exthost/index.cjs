// Extension-host test entry for agentTools.e2e.mjs (the contract of @vscode/test-electron's
// extensionTestsPath: export run(): Promise<void>, a rejection is exit code 1). Runs agentTools.test.cjs.
const path = require('path');
const MochaModule = require('mocha');
const Mocha = MochaModule.Mocha || MochaModule; // mocha 12 exports { Mocha }

exports.run = function run() {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 120_000, reporter: 'spec' });
  mocha.addFile(path.join(__dirname, 'agentTools.test.cjs'));
  return new Promise((resolve, reject) => {
    mocha.run((failures) => {
      console.log(`[exthost-tests] mocha finished, failures=${failures}`);
      if (failures) reject(new Error(`${failures} tests failed`));
      else resolve();
    });
  });
};
