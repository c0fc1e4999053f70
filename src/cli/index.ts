// The bundled entry of the `engine-room` command.
import { errorMessage } from '../core/errors';
import { exitAfterFlush } from './exit';
import { main } from './main';

// `engine-room status | head`: a closed pipe is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

let settled = false;
// If nothing is left to wait for while main() has not settled, a promise was lost: say so, do not
// exit 0 as if all went well.
process.on('beforeExit', () => {
  if (!settled) {
    process.stderr.write('engine-room: internal error: the command ended without a result\n');
    process.exit(1);
  }
});

main(process.argv.slice(2)).then(
  (code) => {
    settled = true;
    exitAfterFlush(code);
  },
  (e: unknown) => {
    settled = true;
    process.stderr.write(`engine-room: ${errorMessage(e)}\n`);
    exitAfterFlush(1);
  },
);
