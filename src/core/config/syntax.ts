/**
 * Pass 1: JSON syntax (jsonc-parser: comments and trailing commas allowed), and keys written twice.
 */
import { parseTree, printParseErrorCode, type ParseError } from 'jsonc-parser';
import type { JsonNode, PathSegment } from './jsonTree';
import { FILE_START, type Reporter } from './reporter';

const SYNTAX_MESSAGES: Readonly<Record<string, string>> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a field name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: "expected ':'",
  CommaExpected: "expected ','",
  CloseBraceExpected: "expected '}'",
  CloseBracketExpected: "expected ']'",
  EndOfFileExpected: 'expected the end of the file',
  InvalidCommentToken: 'invalid comment',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'incomplete number',
  InvalidUnicode: 'invalid unicode escape sequence',
  InvalidEscapeCharacter: 'invalid escape character in string',
  InvalidCharacter: 'invalid character in string',
};

const MAX_SYNTAX_PROBLEMS = 20;

/** The tree of `text`; `undefined`, with the problems reported, when it has syntax errors or is empty. */
export function parseJsonTree(reporter: Reporter, text: string): JsonNode | undefined {
  const syntaxErrors: ParseError[] = [];
  const root = parseTree(text, syntaxErrors, {
    allowTrailingComma: true,
    disallowComments: false,
    allowEmptyContent: true,
  });
  if (syntaxErrors.length > 0) {
    reportSyntax(reporter, syntaxErrors, text.length);
    return undefined;
  }
  if (!root) reporter.error([], FILE_START, 'the file is empty; expected an object like { "engines": [ ... ] }');
  return root;
}

function reportSyntax(reporter: Reporter, errors: readonly ParseError[], textLength: number): void {
  const seen = new Set<number>();
  for (const e of errors) {
    if (seen.has(e.offset)) continue; // one error at a place; the parser's recovery repeats itself
    seen.add(e.offset);
    if (seen.size > MAX_SYNTAX_PROBLEMS) break;
    const code = printParseErrorCode(e.error);
    const what = SYNTAX_MESSAGES[code] ?? code;
    const message =
      e.offset >= textLength ? `JSON syntax error: the file ends too early; ${what}` : `JSON syntax error: ${what}`;
    reporter.error([], reporter.range(e.offset, e.length), message);
  }
}

/** JSON allows repeated keys and the last one wins; that is almost always a mistake, so warn. */
export function reportDuplicateKeys(reporter: Reporter, root: JsonNode): void {
  const stack: Array<{ node: JsonNode; segments: PathSegment[] }> = [{ node: root, segments: [] }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { node, segments } = item;
    if (node.type === 'array') {
      (node.children ?? []).forEach((child, i) => stack.push({ node: child, segments: [...segments, i] }));
    } else if (node.type === 'object') {
      const seen = new Set<string>();
      for (const prop of node.children ?? []) {
        const [key, value] = prop.children ?? [];
        if (!key) continue;
        const name = String(key.value);
        if (seen.has(name)) {
          reporter.warning([...segments, name], key, `duplicate field "${name}"; only the last one counts`);
        }
        seen.add(name);
        if (value) stack.push({ node: value, segments: [...segments, name] });
      }
    }
  }
}
