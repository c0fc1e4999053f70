/**
 * Why an engine failed, from the last lines of its log: known failure signatures (CUDA out of memory,
 * NCCL, a port in use, a missing module or command, a model the hub refuses, a flag the program does not
 * know) are named with a hint; anything else is shown as its last meaningful lines. Pure: text in, a
 * diagnosis out (test/unit/failure.test.ts feeds it real engines' logs).
 */

export type FailureKind =
  | 'cuda-oom'
  | 'nccl'
  | 'address-in-use'
  | 'missing-module'
  | 'missing-command'
  | 'model-gated'
  | 'model-not-found'
  | 'hub-auth'
  | 'hub-unreachable'
  | 'model-file'
  | 'unknown-flag'
  | 'unknown';

/** What the tree's tooltip, the panel's reason column, the toast and `status` show of a failure. */
export interface FailureDiagnosis {
  readonly kind: FailureKind;
  /** One line for people: the signature's name ("CUDA out of memory"), else the last meaningful line. */
  readonly summary: string;
  /** What to do about it (known signatures only). */
  readonly hint?: string;
  /** The log line the signature was found in. */
  readonly evidence?: string;
  /** The last meaningful log lines, oldest first (at most MEANINGFUL_LINES). */
  readonly lines: readonly string[];
}

export const MEANINGFUL_LINES = 6;
const MAX_LINE = 300;

/**
 * The hint of the address-in-use signature, kept here with the others: Ray prints "Address already in
 * use" for any GCS start failure, so the log alone is no evidence (exit.ts looks for the holder).
 */
export const ADDR_IN_USE_TEXT = /EADDRINUSE|address already in use/i;

interface Signature {
  readonly kind: FailureKind;
  readonly test: RegExp;
  readonly summary: (m: RegExpExecArray, texts: readonly string[]) => string;
  readonly hint: (m: RegExpExecArray) => string;
}

const q = (s: string | undefined) => (s ? ` "${s}"` : '');
const named = (s: string | undefined, sep: string) => (s ? `${sep} ${s}` : '');

/** The model id in a hub URL of the log (https://huggingface.co/api/models/ORG/NAME/..., /ORG/NAME/resolve/...). */
function modelId(texts: readonly string[]): string | undefined {
  for (let i = texts.length - 1; i >= 0; i--) {
    const m = /huggingface\.co\/(?:api\/models\/)?([\w.-]+\/[\w.-]+?)(?:\/(?:resolve|revision|tree)\b|[/.]?\s|\.?$)/.exec(texts[i]!);
    if (m) return m[1];
  }
  return undefined;
}

/** In priority order: a cause before its consequences (a gated repo also fails as "not a valid model"). */
const SIGNATURES: readonly Signature[] = [
  {
    kind: 'unknown-flag',
    // argparse, click, commander, Go's flag package, llama.cpp.
    test: /unrecognized arguments?:\s*(\S+)|No such option:\s*(\S+)|unknown option\s*'?([^'\s]+)|flag provided but not defined:\s*(\S+)|error: invalid argument:\s*(\S+)/,
    summary: (m) => `the program does not know the flag${q(m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5])}`,
    hint: () =>
      'A port flag comes from the command or from its preset: for a program that takes its port another way, drop the preset (or use "preset": "http", which sets PORT) and write the flag it knows, with ${port}, in the command.',
  },
  {
    kind: 'missing-command',
    // Case matters: "404: Not Found" is an HTTP answer, not a shell's "foo: not found".
    test: /spawn (\S+) ENOENT|(?:^|[\s:])([^\s:'"]+): (?:command )?not found\b|env: '?([^':]+)'?: No such file or directory/,
    summary: (m) => `command not found${q(m[1] ?? m[2] ?? m[3])}`,
    hint: () => 'It is not on the PATH the engine inherits: install it, or give its full path in "command" (a virtual environment: .venv/bin/python).',
  },
  {
    kind: 'missing-module',
    test: /ModuleNotFoundError: No module named '([^']+)'|ImportError: No module named '?([\w.]+)|Error: Cannot find module '([^']+)'/,
    summary: (m) => `missing module${q(m[1] ?? m[2] ?? m[3])}`,
    hint: (m) =>
      m[3]
        ? 'Install it (npm install) in the folder the engine runs in, or fix the path.'
        : `Install it into the Python that the command runs (pip install ${(m[1] ?? m[2] ?? '').split('.')[0]}), or point "command" at the virtual environment that has it (.venv/bin/python).`,
  },
  {
    kind: 'model-gated',
    test: /GatedRepoError|Cannot access gated repo|You are trying to access a gated repo|Access to model (\S+) is restricted/i,
    summary: (m, texts) => `gated model: no access${named(m[1] ?? modelId(texts), ' to')}`,
    hint: () => "Accept the model's terms on its Hugging Face page, then give a token that has access: HF_TOKEN in \"env\" or \"envFile\".",
  },
  {
    kind: 'model-not-found',
    test: /RepositoryNotFoundError|Repository Not Found for url|RevisionNotFoundError|\bEntryNotFoundError|(\S+) is not a local folder and is not a valid model identifier|404 Client Error/i,
    summary: (m, texts) => `model not found on the hub${named(m[1] ?? modelId(texts), ':')}`,
    hint: () => 'Check the model id (organisation/name) and the revision; a private repository also needs HF_TOKEN in "env" or "envFile".',
  },
  {
    kind: 'hub-auth',
    test: /401 Client Error|Invalid (?:user token|credentials)|Unauthorized for url/i,
    summary: () => 'the model hub refused the token (401)',
    hint: () => 'Give a valid token: HF_TOKEN in "env" or "envFile" (huggingface-cli login writes one to ~/.cache/huggingface/token).',
  },
  {
    kind: 'hub-unreachable',
    test: /LocalEntryNotFoundError|couldn't connect to 'https?:\/\/huggingface\.co'|outgoing traffic has been disabled|HF_HUB_OFFLINE/i,
    summary: () => 'the model is not in the cache and the hub cannot be reached',
    hint: () => 'Download the model first (huggingface-cli download MODEL) where the network works, or give a local path.',
  },
  {
    kind: 'model-file',
    test: /failed to load model|error loading model|failed to open GGUF file|gguf_init_from_file: failed/i,
    summary: () => 'the model file cannot be loaded',
    hint: () => 'Check the model path (relative paths are to "cwd") and that the file is complete and in a format this build reads.',
  },
  {
    kind: 'cuda-oom',
    test: /CUDA out of memory|OutOfMemoryError|CUDA error: out of memory|cudaErrorMemoryAllocation|No available memory for the cache blocks|out of memory allocating/i,
    summary: () => 'CUDA out of memory',
    hint: () =>
      'The GPU has too little free memory: lower what the engine takes (vLLM --gpu-memory-utilization or --max-model-len, SGLang --mem-fraction-static), give it another GPU ("gpus"), or stop what holds the memory (nvidia-smi lists it).',
  },
  {
    kind: 'nccl',
    test: /NCCL error|nccl(?:System|Internal|UnhandledCuda|InvalidUsage|Remote)Error|NCCL WARN|ProcessGroupNCCL.*(?:Watchdog|timed? ?out)|DistBackendError/i,
    summary: () => 'NCCL error (GPU communication)',
    hint: () =>
      'Set NCCL_DEBUG=INFO in "env" for the cause. Common ones: GPUs in CUDA_VISIBLE_DEVICES that another engine uses, too little shared memory in a container (--shm-size), broken peer-to-peer (NCCL_P2P_DISABLE=1).',
  },
  {
    kind: 'address-in-use',
    test: ADDR_IN_USE_TEXT,
    summary: () => 'its log says "address already in use", but no other program holds its ports: a failure of its own',
    hint: () => 'The engine opened a port of its own choosing that was taken (give it one from its block), or the message is part of another failure (Ray prints it for any GCS start failure).',
  },
];

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07/g;

/** A log line as people read it: without colours, its last `\r` state, trimmed and shortened. */
function clean(line: string): string {
  const last = line.slice(line.lastIndexOf('\r') + 1);
  const text = last.replace(ANSI, '').trimEnd();
  return text.length > MAX_LINE ? `${text.slice(0, MAX_LINE - 1)}…` : text;
}

/** Lines that say nothing about why: blanks, Engine Room's own notes, traceback frames and markers, progress bars. */
function noise(line: string): boolean {
  const t = line.trim();
  return (
    t === '' ||
    t.startsWith('[engine-room ') ||
    /^Traceback \(most recent call last\):$/.test(t) ||
    /^File ".*", line \d+/.test(t) ||
    /^[\^~\s]+$/.test(t) ||
    /^(During handling of the above exception|The above exception was the direct cause)/.test(t) ||
    /^\S*\s*\d{1,3}%\|/.test(t)
  );
}

/** The last `n` lines that say something, oldest first. */
export function meaningfulLines(lines: readonly string[], n = MEANINGFUL_LINES): string[] {
  const out: string[] = [];
  for (let i = lines.length - 1; i >= 0 && out.length < n; i--) {
    const l = clean(lines[i]!);
    if (!noise(l)) out.unshift(l);
  }
  return out;
}

/**
 * Names the failure in an engine's last log lines (and the reason Engine Room gave, such as "Could not
 * start foo: spawn foo ENOENT"). Unknown failures are summarised by their last meaningful line, or the
 * reason when the log says nothing.
 */
export function diagnoseFailure(lines: readonly string[], reason?: string): FailureDiagnosis {
  const cleaned = lines.map(clean).filter((l) => !l.trim().startsWith('[engine-room '));
  const texts = reason ? [...cleaned, reason] : cleaned;
  const tail = meaningfulLines(lines);
  for (const sig of SIGNATURES) {
    // The latest line that matches: the final exception of a traceback is at its end.
    for (let i = texts.length - 1; i >= 0; i--) {
      const m = sig.test.exec(texts[i]!);
      if (m) return { kind: sig.kind, summary: sig.summary(m, texts), hint: sig.hint(m), evidence: texts[i]!.trim(), lines: tail };
    }
  }
  const summary = tail.at(-1)?.trim() || reason || 'it failed without a word in its log';
  return { kind: 'unknown', summary, lines: tail };
}
