// The `greeting-js` plugin: the `greeting` example of docs/writing-plugins.md, in JavaScript: keeps a
// greeting file on the host. Built by componentize-js against
// wit/plugin.wit (world `plugin`); it observes through the `observe`
// imports, each checked by the runner against `describe`'s capabilities,
// and returns actions; it changes nothing itself.
import { probe, readFile } from 'runner:plugin/observe@0.4.0';

const SCHEMA = {
  type: 'object',
  required: ['path', 'greeting'],
  additionalProperties: false,
  properties: {
    path: { type: 'string', pattern: '^/' },
    greeting: { type: 'string' },
  },
};

export function describe() {
  return {
    name: 'greeting-js',
    version: '0.1.0',
    summary: 'Keeps a greeting file on the host.',
    paramsSchema: JSON.stringify(SCHEMA),
    secretParams: [],
    capabilities: {
      probes: ['stat -c %a {path}'],
      reads: ['{path}'],
      writes: ['{path}'],
      runs: [],
      http: [],
      peers: [],
      localReads: [],
    },
  };
}

// A `result<plan, string>`: return the plan; throw a string for `err`.
export function plan(request) {
  const p = JSON.parse(request.params);
  const content = new TextEncoder().encode(p.greeting + '\n');
  const action = ensureFile(p.path, content, 0o644);
  return { actions: action ? [action] : [], replan: false, pending: undefined };
}

/// The write that makes `path` hold `content` with `mode`, or null.
function ensureFile(path, content, mode) {
  const current = observed(() => readFile(path));
  if (current !== undefined && equal(current, content) && fileMode(path) === mode) {
    return null;
  }
  return {
    summary: current === undefined ? `create ${path}` : `update ${path}`,
    kind: { tag: 'write-file', val: { path, content, mode } },
  };
}

function fileMode(path) {
  const out = observed(() => probe(`stat -c %a ${shQuote(path)}`));
  return out.exitCode === 0 ? parseInt(out.stdout.trim(), 8) : null;
}

// An import's `err` arrives as a thrown ComponentError; pass its text on
// as this plan's `err`.
function observed(f) {
  try {
    return f();
  } catch (e) {
    throw e && e.payload !== undefined ? String(e.payload) : String(e);
  }
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// One shell word, as the capability check wants a `{param}`.
function shQuote(s) {
  return /^[A-Za-z0-9_\/.,:=@%+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
