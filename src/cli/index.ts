// The bundled entry of the `engine-room` command.
import { errorMessage } from '../core/errors';
import { exitAfterFlush } from './exit';
import { main } from './main';

main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (e: unknown) => {
    process.stderr.write(`engine-room: ${errorMessage(e)}\n`);
    exitAfterFlush(1);
  },
);
