/** What "Open Engines Configuration" writes into a folder that has no `.vscode/engines.json` yet. */
export const CONFIG_TEMPLATE = `// Engine Room: the engines of this workspace. Each starts under a host-wide lock with leased ports.
// Press Ctrl+Space inside an engine for every field; hover a field for its documentation.
{
  "engines": [
    {
      "name": "web",
      // An argv array, run without a shell. \${port} is the port Engine Room leased to this engine.
      "command": ["python3", "-m", "http.server", "\${port}", "--bind", "127.0.0.1"],
      "port": "auto",
      "health": { "http": "/" }
    }
    // A vLLM server whose internal ports come from its own leased block:
    // {
    //   "name": "policy",
    //   "command": ["vllm", "serve", "Qwen/Qwen3-0.6B", "--port", "\${port}"],
    //   "env": { "VLLM_PORT": "\${portBlock}" },
    //   "port": "auto",
    //   "portBlock": 20,
    //   "startLock": "leaseOnly",
    //   "health": { "http": "/health" },
    //   "startTimeout": "15m"
    // }
  ]
}
`;

/** A config with one engine of a preset, from the preset's own example (core's PRESETS[preset].example). */
export function presetTemplate(preset: string, example: Readonly<Record<string, unknown>>): string {
  const text = JSON.stringify(example, null, 2).replace(/\n/g, '\n    ');
  return `// Engine Room: the engines of this workspace. The "${preset}" preset fills in the port flags, the
// health check, the start timeout and the start mode; anything written here wins.
{
  "engines": [
    ${text}
  ]
}
`;
}
