/**
 * (unit) The failure classifier on real log texts: what real programs print when they fail (run here
 * where the machine can: Python, a shell, Node), and the texts vLLM, PyTorch, NCCL and huggingface_hub
 * print (in the form of their released versions' messages, as users reported them) where it cannot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { diagnoseFailure, meaningfulLines } from '../../src/core/failure';

/** Runs a real program and gives its output's lines, as the engine's log would hold them. */
function outputOf(cmd: string, args: string[]): string[] {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, PYTHONUNBUFFERED: '1' } });
  assert.notEqual(r.status, 0, `${cmd} ${args.join(' ')} was meant to fail`);
  return `${r.stdout}${r.stderr}`.split('\n');
}

test('(unit) a missing Python module (a real traceback): named, with the pip hint', () => {
  const lines = ['INFO starting', ...outputOf('python3', ['-c', 'import os\nimport vllm_not_installed_here'])];
  const d = diagnoseFailure(lines);
  assert.equal(d.kind, 'missing-module');
  assert.equal(d.summary, 'missing module "vllm_not_installed_here"');
  assert.match(d.hint ?? '', /pip install vllm_not_installed_here/);
  // Traceback frames are not "meaningful"; the exception line is the last one.
  assert.match(d.lines.at(-1) ?? '', /^ModuleNotFoundError: No module named 'vllm_not_installed_here'$/);
  assert.ok(!d.lines.some((l) => /^\s*File "/.test(l)), d.lines.join('\n'));
});

test('(unit) a port flag the program does not know (real argparse): named, with the preset hint', () => {
  const lines = outputOf('python3', ['-c', "import argparse; p = argparse.ArgumentParser(prog='server'); p.add_argument('--model'); p.parse_args()", '--model', 'm', '--port', '20001']);
  const d = diagnoseFailure(lines);
  assert.equal(d.kind, 'unknown-flag');
  assert.equal(d.summary, 'the program does not know the flag "--port"');
  assert.match(d.hint ?? '', /preset/);
});

test('(unit) a command that is not there: a shell\'s "not found" and a spawn ENOENT', () => {
  const sh = diagnoseFailure(outputOf('sh', ['-c', 'no-such-engine-xyz --port 1']));
  assert.equal(sh.kind, 'missing-command');
  assert.equal(sh.summary, 'command not found "no-such-engine-xyz"');
  const bash = diagnoseFailure(outputOf('bash', ['-c', 'no-such-engine-xyz']));
  assert.equal(bash.kind, 'missing-command');
  // What the supervisor reports when the spawn itself fails (no log line at all).
  const spawned = diagnoseFailure(['[engine-room 2026-12-02T10:00:00.000Z] starting x'], 'Could not start no-such-engine-xyz: spawn no-such-engine-xyz ENOENT');
  assert.equal(spawned.kind, 'missing-command');
  assert.equal(spawned.summary, 'command not found "no-such-engine-xyz"');
  assert.deepEqual(spawned.lines, [], "Engine Room's own notes are not the engine's words");
  // An HTTP "404: Not Found" is not a shell's "not found".
  assert.notEqual(diagnoseFailure(['GET /v1/models -> 404: Not Found']).kind, 'missing-command');
});

test('(unit) a missing Node module (real node): named', () => {
  const d = diagnoseFailure(outputOf(process.execPath, ['-e', "require('no-such-package-xyz')"]));
  assert.equal(d.kind, 'missing-module');
  assert.equal(d.summary, 'missing module "no-such-package-xyz"');
});

test('(unit) "address already in use" in the log (a real Node listen on a taken port): named as the log\'s word only', async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const d = diagnoseFailure(outputOf(process.execPath, ['-e', `require('net').createServer().listen(${port}, '127.0.0.1')`]));
    assert.equal(d.kind, 'address-in-use');
    assert.match(d.evidence ?? '', /EADDRINUSE/);
  } finally {
    server.close();
  }
});

test('(unit) CUDA out of memory (vLLM worker log, PyTorch 2.x message): named, with the memory hint', () => {
  const lines = [
    'INFO 03-27 10:29:10 [worker.py:267] Memory profiling takes 3.1 seconds',
    '(VllmWorkerProcess pid=206994) ERROR 03-27 10:29:13 [worker_base.py:620]     return self.forward(*args, **kwargs)',
    '(VllmWorkerProcess pid=206994) ERROR 03-27 10:29:13 [worker_base.py:620]            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^',
    'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 MiB. GPU 0 has a total capacity of 44.53 GiB of which 448.00 KiB is free. Including non-PyTorch memory, this process has 44.52 GiB memory in use.',
    "[rank0]:[W327 10:29:14.615225908 ProcessGroupNCCL.cpp:1476] Warning: WARNING: destroy_process_group() was not called before program exit, which can leak resources.",
  ];
  const d = diagnoseFailure(lines);
  assert.equal(d.kind, 'cuda-oom', 'the out-of-memory, not the NCCL warning it causes');
  assert.equal(d.summary, 'CUDA out of memory');
  assert.match(d.hint ?? '', /gpu-memory-utilization/);
  assert.equal(diagnoseFailure(['ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.']).kind, 'cuda-oom');
});

test('(unit) NCCL errors (vLLM tensor parallel): named, with the NCCL_DEBUG hint', () => {
  const d = diagnoseFailure([
    '(RayWorkerWrapper pid=11305) ERROR 08-27 05:12:18 worker_base.py:382]   File "/usr/local/lib/python3.10/dist-packages/vllm/distributed/device_communicators/pynccl_wrapper.py", line 223, in NCCL_CHECK',
    '(RayWorkerWrapper pid=11305) ERROR 08-27 05:12:18 worker_base.py:382] RuntimeError: NCCL error: unhandled cuda error (run with NCCL_DEBUG=INFO for details)',
  ]);
  assert.equal(d.kind, 'nccl');
  assert.match(d.hint ?? '', /NCCL_DEBUG=INFO/);
  assert.equal(diagnoseFailure(['torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1970, unhandled system error, NCCL version 2.20.5']).kind, 'nccl');
});

test('(unit) a model the hub refuses: not found (404, and the 401 of an unknown repo), gated, a bad token, offline', () => {
  const notFound = diagnoseFailure([
    'huggingface_hub.errors.RepositoryNotFoundError: 401 Client Error. (Request ID: Root=1-67f0a1b2-0c1d2e3f4a5b6c7d8e9f0a1b;5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9)',
    '',
    'Repository Not Found for url: https://huggingface.co/api/models/Qwen/Qwen3-06B/revision/main.',
    'Please make sure you specified the correct `repo_id` and `repo_type`.',
    'If you are using a private or gated repo, make sure you are authenticated.',
    'Invalid username or password.',
  ]);
  assert.equal(notFound.kind, 'model-not-found', 'a 401 for a repo that does not exist is "not found", not a token problem');
  assert.equal(notFound.summary, 'model not found on the hub: Qwen/Qwen3-06B');
  const transformers = diagnoseFailure(["OSError: Qwen/Qwen3-06B is not a local folder and is not a valid model identifier listed on 'https://huggingface.co/models'"]);
  assert.equal(transformers.kind, 'model-not-found');
  assert.equal(transformers.summary, 'model not found on the hub: Qwen/Qwen3-06B');
  const gated = diagnoseFailure([
    'huggingface_hub.errors.GatedRepoError: 401 Client Error. (Request ID: Root=1-66f4b037-1bf3d7d219afbc904ee05694;5601d2c9-8fd8-4ed8-b38d-d8a432e1fa59)',
    '',
    'Cannot access gated repo for url https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/resolve/main/config.json.',
    'Access to model meta-llama/Llama-3.1-8B-Instruct is restricted. You must have access to it and be authenticated to access it. Please log in.',
  ]);
  assert.equal(gated.kind, 'model-gated');
  assert.equal(gated.summary, 'gated model: no access to meta-llama/Llama-3.1-8B-Instruct');
  assert.match(gated.hint ?? '', /HF_TOKEN/);
  assert.equal(diagnoseFailure(['requests.exceptions.HTTPError: 401 Client Error: Unauthorized for url: https://huggingface.co/api/whoami-v2']).kind, 'hub-auth');
  assert.equal(
    diagnoseFailure(["huggingface_hub.errors.LocalEntryNotFoundError: An error happened while trying to locate the file on the Hub and we cannot find the requested files in the local cache."]).kind,
    'hub-unreachable',
  );
});

test('(unit) an unknown failure: its last meaningful lines, colours, progress bars and blank lines left out', () => {
  const lines = outputOf('python3', ['-c', "print('loading weights'); print('Loading: 45%|####      | 9/20'); print(); print('\\x1b[31mfatal: the tokenizer config is broken\\x1b[0m'); raise SystemExit(3)"]);
  const d = diagnoseFailure(lines);
  assert.equal(d.kind, 'unknown');
  assert.equal(d.summary, 'fatal: the tokenizer config is broken');
  assert.deepEqual(d.lines, ['loading weights', 'fatal: the tokenizer config is broken']);
  assert.equal(d.hint, undefined);
  // Nothing in the log: the reason Engine Room gave.
  assert.equal(diagnoseFailure([], 'not healthy within 2 s').summary, 'not healthy within 2 s');
  // A `\r` progress line shows its latest state.
  assert.deepEqual(meaningfulLines(['step 1\rstep 2\rdone: exit']), ['done: exit']);
});
