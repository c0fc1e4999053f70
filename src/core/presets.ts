/**
 * Engine presets: `"preset": "vllm"` (or `sglang`, `llama.cpp`, `ollama`, `tgi`, `ray`, `http`) fills in what an
 * inference engine needs: its serving-port flag or variable, a port block wired to the engine's own internal
 * port settings, the health route, a start timeout for model loading, the start-lock mode that is safe for
 * it, and whether it serves the OpenAI API. Anything the user writes wins, field by field (`env` key by key;
 * `health` is one field and replaces the preset's probe and timings as a whole).
 *
 * The preset never invents the command: the user gives it (`["vllm", "serve", "Qwen/Qwen3-0.6B"]`) and the
 * preset APPENDS its flags (`--port ${port}` and the like), each unless the command already has that flag,
 * so the user's own `--port 8000` or `--nccl-port ...` is left alone. A flag the engine does not know makes
 * it exit, so a preset only appends long-standing flags; options that only some releases have are set
 * through environment variables the engine reads (TGI reads every option from the environment too), which
 * the other releases ignore.
 *
 * `expandPreset` is pure: `config.ts` runs it on each engine object before building the `EngineSpec`, so the
 * validator checks the expanded result while problems still point at what the user wrote.
 *
 * Sources (see the README's "Presets" section for the links):
 * - vLLM: `vllm serve --port` (default 8000) is the API server; `VLLM_PORT` is only the base of the
 *   internal ports (vLLM docs, Environment Variables: "not the port ... for the API server"). Every internal
 *   port goes through `get_open_port()` (vllm/utils/network_utils.py), which with `VLLM_PORT` set scans
 *   upwards from it instead of binding port 0: torch.distributed's init port, the data-parallel master
 *   ports (`get_open_ports_list(5)`), ZMQ ports of multi-process/data-parallel front ends. The API socket is
 *   bound early, before the model loads.
 *   Beyond VLLM_PORT (vllm/envs.py): `VLLM_DP_MASTER_PORT` (default 0; with it set, get_open_port() keeps
 *   out of [it, it + 10), and a VLLM_PORT inside that window hung startup: vllm#50024, PRs #50049,
 *   #50965), `VLLM_NIXL_SIDE_CHANNEL_PORT` (default 5600 since PR #25056, before 5557 like the KV-events
 *   endpoint, issue #25059; one port per data-parallel rank above it). KV events (`--kv-events-config`,
 *   endpoint `tcp://*:5557`) and P2P NCCL's `kv_port` (issue #44061) live in flag JSON: not moved.
 * - Ray (`ray start --help`, Ray 2.58): `--port` is the GCS; the dashboard, node manager, object manager,
 *   dashboard agent HTTP/gRPC, metrics export and runtime-env agent ports and the worker range each have a
 *   flag; `--ray-client-server-port` makes plain `ray` (without `ray[client]`) exit. SIGTERM to the whole
 *   group makes every process drain for 30 s; to `ray start` alone it stops them in order (PORTS.md).
 * - SGLang: `--port` (default 30000); `--nccl-port` is torch.distributed's port, otherwise picked at start
 *   (older releases: `port + random(100, 1000)` then steps of 42; newer: `get_free_port()`, a port-0 bind
 *   that is closed and bound again later). With DP attention it also derives ports from `--port` (+233)
 *   and `--dist-init-addr`, which no block can hold. Tokenizer, scheduler and detokenizer talk over IPC
 *   files. It prints "The server is fired up and ready to roll!" after its warm-up request.
 * - llama.cpp: `llama-server --port` (default 8080, host 127.0.0.1); `GET /health` answers 503 while the
 *   model loads, then 200. No other port.
 * - Ollama: `ollama serve` listens on `OLLAMA_HOST` (default `127.0.0.1:11434`), it has no port flag;
 *   `GET /api/tags` lists the local models; OpenAI API under `/v1`. It starts a runner process per loaded
 *   model on a port-0 pick (llm/server.go), at the first request for that model, not at start.
 * - TGI: `text-generation-launcher --port` (default 3000), `--master-port` (torch.distributed, default
 *   29500), `--shard-uds-path` (default `/tmp/text-generation-server`, the gRPC sockets between router and
 *   shards): two launchers on one host collide on both unless they are moved (Hugging Face's own two-model
 *   Spaces pass both). TGI 3.1 binds Prometheus metrics on a fixed port 9000 (huggingface/
 *   text-generation-inference#3062), which nothing can move there.
 */
import type { StartLockMode } from './model';

export const PRESET_NAMES = ['vllm', 'sglang', 'llama.cpp', 'ollama', 'tgi', 'ray', 'http'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** A flag appended to the command as `flag value`, unless the command already has `flag` (or an alias). */
export interface PresetFlag {
  readonly flag: string;
  readonly value: string;
  readonly aliases?: readonly string[];
}

/**
 * A port of the engine's block that the preset hands to the engine, appended as `flag PORT` (unless the
 * command has the flag) or set as `env` (unless the engine's `env` or `envFile` sets it). `offset` counts
 * from the block's first port; a negative one from its last (-1 is the last). Resolved once the block is
 * leased (`presetPorts.ts`), since a block's ports are only known then.
 */
export interface PresetBlockPort {
  readonly offset: number;
  readonly flag?: string;
  readonly env?: string;
}

/** What a preset fills in; every field is a default the user's own field replaces. */
export interface Preset {
  readonly name: PresetName;
  /** The engine's name for people, e.g. "vLLM". */
  readonly title: string;
  /** One line, for completion lists. */
  readonly summary: string;
  readonly flags: readonly PresetFlag[];
  readonly env: Readonly<Record<string, string>>;
  readonly port: 'auto';
  readonly portBlock?: number;
  /** Ports of the block placed by offset; `MASTER_PORT` among them where the preset chooses its place. */
  readonly blockPorts?: readonly PresetBlockPort[];
  readonly health: { readonly http: string } | { readonly tcp: true };
  /** How `down` signals it (see `stopSignalTo`); the engine default where absent. */
  readonly stopSignalTo?: 'group' | 'leader';
  /** A duration string, as a user would write it. */
  readonly startTimeout: string;
  readonly startLock: StartLockMode;
  /** The engine serves the OpenAI API under `/v1`. */
  readonly openai: boolean;
  /**
   * The line the engine prints once it serves, where its source confirms one. Documentation only: the
   * preset's health probe is HTTP, which also watches the engine after it started (a log probe, once
   * matched, stays healthy). Use it as `"health": { "log": ... }` if you prefer.
   */
  readonly readyLine?: string;
  /** A complete engine using the preset, as written in engines.json (README, snippets, templates). */
  readonly example: Readonly<Record<string, unknown>>;
}

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  vllm: {
    name: 'vllm',
    title: 'vLLM',
    summary: 'vLLM OpenAI-compatible server: --port, VLLM_PORT and its other ports on a 40-port block, /health, 15m, leaseOnly',
    // The serving port as a flag; the internal ports through VLLM_PORT, the base vLLM scans up from.
    flags: [{ flag: '--port', value: '${port}' }],
    env: { VLLM_PORT: '${portBlock}' },
    port: 'auto',
    // 0-19: what VLLM_PORT's scan takes (a single-GPU server 1-2 ports, tensor/data parallel servers up
    // to about a dozen: 5 data-parallel master ports, the torch.distributed port, ZMQ ports). Then the
    // ports with fixed defaults that collide between engines on one host, each past that scan:
    portBlock: 40,
    blockPorts: [
      // 20-29: with VLLM_DP_MASTER_PORT set, get_open_port() keeps out of [it, it + 10); a VLLM_PORT
      // inside that window hung startup (vllm#50024, fixed by #50965; #50049).
      { offset: 20, env: 'VLLM_DP_MASTER_PORT' },
      // 30-37: the NIXL side channel (default 5600, vllm#25056), one port per data-parallel rank above it.
      { offset: 30, env: 'VLLM_NIXL_SIDE_CHANNEL_PORT' },
      { offset: -1, env: 'MASTER_PORT' },
    ],
    health: { http: '/health' },
    startTimeout: '15m',
    // Every port it opens comes from the leases (its API port) or the block (VLLM_PORT), so it need not
    // hold the start lock while it loads; the supervisor restarts it on fresh ports after an EADDRINUSE.
    startLock: 'leaseOnly',
    openai: true,
    example: { name: 'policy', preset: 'vllm', command: ['vllm', 'serve', 'Qwen/Qwen3-0.6B'], gpus: '0' },
  },
  sglang: {
    name: 'sglang',
    title: 'SGLang',
    summary: 'SGLang server: --port, --nccl-port and MASTER_PORT from a 2-port block, /health, 15m, untilHealthy',
    flags: [
      { flag: '--port', value: '${port}' },
      { flag: '--nccl-port', value: '${portBlock}' },
    ],
    env: {},
    port: 'auto',
    // --nccl-port, then MASTER_PORT (the block's last port) for anything that rendezvous through env://.
    portBlock: 2,
    health: { http: '/health' },
    startTimeout: '15m',
    // It derives other ports from --port (+233 with DP attention) or picks them with port-0 binds that are
    // bound again later: the block cannot hold them, so it keeps the lock until healthy.
    startLock: 'untilHealthy',
    openai: true,
    readyLine: 'The server is fired up and ready to roll!',
    example: {
      name: 'reward',
      preset: 'sglang',
      command: ['python3', '-m', 'sglang.launch_server', '--model-path', 'Qwen/Qwen3-0.6B'],
      gpus: '1',
    },
  },
  'llama.cpp': {
    name: 'llama.cpp',
    title: 'llama.cpp server',
    summary: 'llama.cpp llama-server: --port, /health (503 while loading), 5m, leaseOnly',
    flags: [{ flag: '--port', value: '${port}' }],
    env: {},
    port: 'auto',
    health: { http: '/health' },
    startTimeout: '5m',
    // Its only port is the leased one.
    startLock: 'leaseOnly',
    openai: true,
    example: {
      name: 'local-llm',
      preset: 'llama.cpp',
      command: ['llama-server', '-m', '${workspaceFolder}/models/qwen3-0.6b-q8_0.gguf', '-ngl', '99'],
    },
  },
  ollama: {
    name: 'ollama',
    title: 'Ollama',
    summary: 'Ollama: OLLAMA_HOST=127.0.0.1:${port}, /api/tags, 1m, leaseOnly',
    // `ollama serve` has no port flag: it listens where OLLAMA_HOST says.
    flags: [],
    env: { OLLAMA_HOST: '127.0.0.1:${port}' },
    port: 'auto',
    health: { http: '/api/tags' },
    startTimeout: '1m',
    // It listens on the leased port only; its per-model runners pick ports at the first request for a
    // model, long after any start, where no start lock could help.
    startLock: 'leaseOnly',
    openai: true,
    example: { name: 'ollama', preset: 'ollama', command: ['ollama', 'serve'] },
  },
  tgi: {
    name: 'tgi',
    title: 'Text Generation Inference',
    summary: 'Hugging Face TGI: --port, --master-port and --shard-uds-path of its own, /health, 15m, untilHealthy',
    flags: [
      { flag: '--port', value: '${port}', aliases: ['-p'] },
      { flag: '--master-port', value: '${portBlock}' },
      { flag: '--shard-uds-path', value: '/tmp/engine-room-tgi-${port}' },
    ],
    // The launcher reads each option from the environment too; where a release has a Prometheus port
    // option this moves it into the block, elsewhere the variable is ignored.
    env: { PROMETHEUS_PORT: '${portBlockEnd}' },
    port: 'auto',
    portBlock: 2,
    // The launcher hands --master-port to its shards as MASTER_PORT: the same port.
    blockPorts: [{ offset: 0, env: 'MASTER_PORT' }],
    health: { http: '/health' },
    startTimeout: '15m',
    // Releases with a fixed metrics port (9000) open a port no block holds.
    startLock: 'untilHealthy',
    openai: true,
    example: {
      name: 'tgi',
      preset: 'tgi',
      command: ['text-generation-launcher', '--model-id', 'Qwen/Qwen3-0.6B'],
      gpus: '2,3',
    },
  },
  ray: {
    name: 'ray',
    title: 'Ray head',
    summary: 'Ray head (ray start --head --block): GCS on --port, every other Ray port from a 100-port block, tcp, leader stop',
    flags: [{ flag: '--port', value: '${port}' }],
    env: {},
    port: 'auto',
    // Ray's fixed ports first, then MASTER_PORT for a trainer's torch.distributed, then the workers' range
    // (each worker and each driver takes one): 91 ports.
    portBlock: 100,
    blockPorts: [
      { offset: 0, flag: '--dashboard-port' },
      // 1: kept for `--ray-client-server-port`, which makes plain `ray` (without `ray[client]`) exit.
      { offset: 2, flag: '--node-manager-port' },
      { offset: 3, flag: '--object-manager-port' },
      { offset: 4, flag: '--dashboard-agent-listen-port' },
      { offset: 5, flag: '--dashboard-agent-grpc-port' },
      { offset: 6, flag: '--metrics-export-port' },
      { offset: 7, flag: '--runtime-env-agent-port' },
      { offset: 8, env: 'MASTER_PORT' },
      { offset: 9, flag: '--min-worker-port' },
      { offset: -1, flag: '--max-worker-port' },
    ],
    // The GCS listens first; the dashboard is not there with plain `pip install ray`.
    health: { tcp: true },
    startTimeout: '3m',
    // Every port it opens is in its leases.
    startLock: 'leaseOnly',
    // SIGTERM to every Ray process at once makes each wait out a drain (30 s, then SIGKILL); SIGTERM to
    // `ray start` alone stops the head's processes in order within seconds.
    stopSignalTo: 'leader',
    openai: false,
    example: { name: 'ray-head', preset: 'ray', command: ['ray', 'start', '--head', '--block'] },
  },
  http: {
    name: 'http',
    title: 'HTTP server',
    summary: 'Any HTTP server: an auto port in $PORT, health GET /, untilHealthy',
    // Engine Room does not know this program's flags; many servers (Node, Next.js, Rails, Flask via
    // wrappers) read PORT. Write `"--port", "${port}"` in the command for the others.
    flags: [],
    env: { PORT: '${port}' },
    port: 'auto',
    health: { http: '/' },
    startTimeout: '2m',
    startLock: 'untilHealthy',
    openai: false,
    example: { name: 'web', preset: 'http', command: ['npm', 'run', 'dev'] },
  },
};

export function isPresetName(value: unknown): value is PresetName {
  return typeof value === 'string' && (PRESET_NAMES as readonly string[]).includes(value);
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Like `obj[key] = value` but a `__proto__` key stays a plain key. */
function put(obj: JsonObject, key: string, value: Json): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * `CUDA_VISIBLE_DEVICES` for a `gpus` value: `"0,1"` (spaces dropped) or `[0, 1]`; `undefined` when the
 * value has neither form.
 */
export function gpuList(gpus: unknown): string | undefined {
  if (typeof gpus === 'string') {
    const ids = gpus.split(',').map((s) => s.trim());
    return ids.length > 0 && ids.every((s) => /^[A-Za-z0-9][A-Za-z0-9:_-]*$/.test(s)) ? ids.join(',') : undefined;
  }
  if (Array.isArray(gpus) && gpus.length > 0 && gpus.every((g) => Number.isInteger(g) && (g as number) >= 0)) {
    return gpus.join(',');
  }
  return undefined;
}

/** Where `flag` (or an alias) appears in an argv: `--port 8000` or `--port=8000`; its value if it has one. */
export function findFlag(argv: readonly string[], names: readonly string[]): { index: number; value?: string } | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    for (const name of names) {
      if (arg === name) return argv[i + 1] !== undefined ? { index: i, value: argv[i + 1] } : { index: i };
      if (arg.startsWith(`${name}=`)) return { index: i, value: arg.slice(name.length + 1) };
    }
  }
  return undefined;
}

/** Whether a shell command line has `flag` as a word of its own (`--port 8000`, `--port=8000`). */
export function shellHasFlag(line: string, names: readonly string[]): boolean {
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return names.some((n) => new RegExp(`(^|[\\s;&|('"])${escape(n)}(?=$|[\\s=;&|)'"])`).test(line));
}

/**
 * One engine object of engines.json with its preset and `gpus` applied, as a new object in the same JSON
 * shape (the input is not changed). What the user wrote wins, field by field; `env` key by key; the
 * preset's flags are appended to `command` unless it already has them. `gpus` becomes
 * `env.CUDA_VISIBLE_DEVICES` unless `env` sets that itself. Values of the wrong type are left as they are
 * (the schema reports them), so this never throws. An object without a known preset and without `gpus` is
 * returned as a copy.
 */
export function expandPreset(engine: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(engine)) put(out, k, v as Json);
  const preset = isPresetName(engine.preset) ? PRESETS[engine.preset] : undefined;
  const userEnv = isObject(engine.env) ? engine.env : undefined;

  if (preset) {
    const command = engine.command;
    const names = (f: PresetFlag): readonly string[] => [f.flag, ...(f.aliases ?? [])];
    if (Array.isArray(command) && command.every((a) => typeof a === 'string')) {
      const argv = [...(command as string[])];
      for (const f of preset.flags) if (!findFlag(command as string[], names(f))) argv.push(f.flag, f.value);
      out.command = argv;
    } else if (typeof command === 'string') {
      let line = command;
      for (const f of preset.flags) if (!shellHasFlag(command, names(f))) line += ` ${f.flag} ${f.value}`;
      out.command = line;
    }
    // A wrongly typed `env` is left for the schema to report.
    if (engine.env === undefined || userEnv) {
      const env: JsonObject = {};
      for (const [k, v] of Object.entries(preset.env)) put(env, k, v);
      for (const [k, v] of Object.entries(userEnv ?? {})) put(env, k, v);
      if (Object.keys(env).length > 0) out.env = env;
    }
    const fill = (key: string, value: Json | undefined): void => {
      if (value !== undefined && engine[key] === undefined) put(out, key, value);
    };
    fill('port', preset.port);
    fill('portBlock', preset.portBlock);
    fill('health', { ...preset.health });
    fill('startTimeout', preset.startTimeout);
    fill('startLock', preset.startLock);
    fill('stopSignalTo', preset.stopSignalTo);
    fill('openai', preset.openai);
  }

  const gpus = gpuList(engine.gpus);
  if (gpus !== undefined && (engine.env === undefined || userEnv)) {
    const env: JsonObject = {};
    for (const [k, v] of Object.entries(isObject(out.env) ? out.env : {})) put(env, k, v);
    if (!Object.hasOwn(env, 'CUDA_VISIBLE_DEVICES')) put(env, 'CUDA_VISIBLE_DEVICES', gpus);
    out.env = env;
  }
  return out;
}
