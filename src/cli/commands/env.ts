// `engine-room env`.
import { expandGroups, unknownNames } from '../../core/engineGroups';
import { ENDPOINT_FORMATS, endpointVariables, formatEndpoints, type EndpointFormat } from '../../core/endpoints';
import { UsageError, err, loadOrExit, makeSupervisor } from '../common';

export async function run(given: string[], opts: { config?: string; format?: string }): Promise<number> {
  const format = (opts.format ?? 'shell') as EndpointFormat;
  if (!ENDPOINT_FORMATS.includes(format)) {
    throw new UsageError(`--format must be ${ENDPOINT_FORMATS.join(', ')}; got "${opts.format}".`);
  }
  const config = await loadOrExit(opts.config);
  for (const n of unknownNames(config.engines, given)) throw new UsageError(`No engine named "${n}" in ${config.file}.`);
  const names = expandGroups(config.engines, given);
  const sup = makeSupervisor(config, 'engine-room env');
  await sup.refresh();
  const openai = new Map(config.engines.map((e) => [e.name, e.openai === true]));
  const running = sup
    .snapshots()
    .filter((s) => s.pid !== null && (names.length === 0 || names.includes(s.name)))
    .map((s) => ({ ...s, openai: openai.get(s.name) ?? false }));
  const vars = endpointVariables(running, (name, other, prefix) =>
    err(`engine-room: ${name} is left out: its variables would be ${prefix}_*, like those of ${other}`),
  );
  process.stdout.write(formatEndpoints(vars, format));
  return 0;
}
